"""The Ledger in memory, with the contracts' rules: for simulations and fast tests.

:class:`MemoryLedger` keeps what ProviderRegistry, TaskEscrow and ValidatorBook keep and
refuses what they refuse, raising the same typed errors with the contracts' own revert
strings (built by :func:`llmnet.errors.revert_error`, as the web3 ledger translates
reverts). Reputation goes through :func:`llmnet.reputation.beta.apply_update`, the
contract's fixed-point rule. Every write is one "block": the clock moves one second and a
refused write changes nothing. There is no gas, and arrays have no size bound, so a
simulation can register more providers than the contracts' fixed-size arrays hold.

>>> ledger = MemoryLedger(domains=("general",))
>>> ledger.domains()
['general']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from llmnet.chain.ledger import Account, Ledger
from llmnet.chain.memory_coordinators import MemoryCoordinators
from llmnet.chain.memory_state import (
    MAX_FEE_GWEI,
    MAX_RESPONDENTS,
    ZERO_ADDRESS,
    CoordinatorRecord,
    DomainEvidence,
    MemoryParams,
    ProviderRecord,
    TaskRecord,
    ValidatorRecord,
    address_of,
    amount_of,
    refuse,
    require,
)
from llmnet.chain.memory_validators import MemoryValidators
from llmnet.chain.memory_versions import MemoryVersions
from llmnet.chain.merkle import verify_proof
from llmnet.chain.provenance import VersionProvenance
from llmnet.errors import InputError, InsufficientFunds, revert_error
from llmnet.hashing import keccak256
from llmnet.reputation.beta import DECAY_ONE, UNIT, RepState, apply_update
from llmnet.types import (
    GWEI,
    ZERO_HASH,
    BatchInfo,
    Candidate,
    DomainCard,
    ProviderInfo,
    ProviderProfile,
    SettlementBatch,
    TaskInfo,
    TaskStatus,
    TxReceipt,
    check_hash,
    domain_id,
    joined_hashes,
)

__all__ = ["DomainEvidence", "MemoryLedger", "MemoryParams"]


class MemoryLedger(MemoryValidators, MemoryCoordinators, MemoryVersions, Ledger):
    """Providers, tasks, settlement, reputation and validators held in dictionaries."""

    def __init__(
        self, params: MemoryParams | None = None, *, governance: str = "0x" + "00" * 19 + "01",
        domains: Sequence[str] = (),
    ) -> None:  # fmt: skip
        self.params = params or MemoryParams()
        if self.params.min_stake <= 0 or not 0 < self.params.decay <= DECAY_ONE:
            raise InputError("min_stake must be positive and decay in (0, 1e18]")
        self.governance = address_of(governance, "governance")
        self.time = self.params.start_time
        self.block_number = 0
        self._balances: dict[str, int] = {}
        self._domains: list[str] = []
        self._cards: dict[str, DomainCard] = {}
        self._members: dict[str, list[str]] = {}
        self._providers: dict[str, ProviderRecord] = {}
        self._provenances: dict[str, VersionProvenance] = {}
        self._owner_versions: dict[str, list[str]] = {}
        self._named_owners: dict[str, str] = {}
        self._reputation: dict[tuple[str, str], RepState] = {}
        self._settlers: list[str] = []  # in the order allowed, as the escrow lists them
        self._coordinators: dict[str, CoordinatorRecord] = {}
        self._deposits: dict[str, int] = {}
        self._allowances: dict[tuple[str, str], int] = {}
        self._credits: dict[str, int] = {}
        self._tasks: list[TaskRecord] = []
        self._batches: list[BatchInfo] = []
        self._validators: dict[str, ValidatorRecord] = {}
        self._evidence: dict[str, DomainEvidence] = {}
        for name in domains:
            domain_id(name)  # validates the name
            self._domains.append(name)
            self._members[name] = []

    # ---- the simulated chain
    def fund(self, account: str, amount: int) -> None:
        """Give ``account`` native currency (what a faucet or genesis allocation does)."""
        key = address_of(account)
        self._balances[key] = self._balances.get(key, 0) + amount_of(amount, "amount")

    def advance(self, seconds: int) -> None:
        """Move the clock forward, as ``evm_increaseTime`` and mining a block do."""
        self.time += seconds
        self.block_number += 1

    def _mine(self, value: int | None = None) -> TxReceipt:
        self.block_number += 1
        tx_hash = "0x" + keccak256(self.block_number.to_bytes(32, "big")).hex()
        return TxReceipt(tx_hash, self.block_number, 0, value)

    def _block_time(self) -> int:
        return self.time + 1

    def _pay_in(self, sender: Account, value: int) -> str:
        """The sender's address after it sends ``value`` along; refused when it cannot."""
        who = address_of(sender.address, "sender")
        have = self._balances.get(who, 0)
        if amount_of(value, "value") > have:
            raise InsufficientFunds("insufficient funds for gas and value", "fund the sending account")
        return who

    def _commit_block(self) -> None:
        self.time = self._block_time()

    # ---- chain facts
    @property
    def chain_id(self) -> int:
        return self.params.chain_id

    @property
    def min_stake(self) -> int:
        return self.params.min_stake

    @property
    def decay(self) -> int:
        return self.params.decay

    def now(self) -> int:
        return self.time

    def pending_time(self) -> int:
        return self._block_time()

    def balance_of(self, account: str) -> int:
        return self._balances.get(address_of(account), 0)

    # ---- governance
    def _only_governance(self, sender: Account) -> None:
        require(address_of(sender.address, "sender") == self.governance, "only governance may do this")

    def add_domain(self, name: str, sender: Account) -> TxReceipt:
        domain_id(name)
        self._only_governance(sender)
        require(name not in self._members, "domain already exists", name)
        self._domains.append(name)
        self._members[name] = []
        return self._write()

    def _write(self, value: int | None = None) -> TxReceipt:
        self._commit_block()
        return self._mine(value)

    def domains(self) -> list[str]:
        return list(self._domains)

    def set_domain_card(self, card: DomainCard, sender: Account) -> TxReceipt:
        self._only_governance(sender)
        self._cards[self._domain(card.domain)] = card
        return self._write()

    def domain_cards(self) -> list[DomainCard]:
        return [self._cards.get(name) or DomainCard.from_chain(domain=name, description="", corpus_hash=ZERO_HASH,
                                                               corpus_url="") for name in self._domains]  # fmt: skip

    def _domain(self, name: str) -> str:
        if name not in self._members:
            raise revert_error(
                "unknown domain", f"{name!r} is not one of {sorted(self._members)}; governance adds domains"
            )
        return name

    def set_settler(self, settler: str, allowed: bool, sender: Account) -> TxReceipt:
        who = address_of(settler, "settler")
        self._only_governance(sender)
        require(who != ZERO_ADDRESS, "settler address is empty")
        if allowed and who not in self._settlers:
            self._settlers.append(who)
        elif not allowed and who in self._settlers:  # swap-and-pop, as the escrow does
            at = self._settlers.index(who)
            self._settlers[at] = self._settlers[-1]
            self._settlers.pop()
        return self._write()

    def is_settler(self, account: str) -> bool:
        return address_of(account) in self._settlers

    def settlers(self) -> list[str]:
        return list(self._settlers)

    # ---- providers
    def register_provider(self, profile: ProviderProfile, stake: int, sender: Account) -> TxReceipt:
        for d in profile.domains:
            self._domain(d)
        context = f"registering with stake {amount_of(stake, 'stake')} wei, minimum {self.min_stake}"
        who = self._pay_in(sender, stake)
        require(who not in self._providers, "provider already registered", context)
        require(stake >= self.min_stake, "stake below the minimum", context)
        self._balances[who] -= stake
        self._providers[who] = ProviderRecord(profile, stake, self._block_time())
        for d in profile.domains:
            self._members[d].append(who)
        self._forget_evidence(profile.domains)
        return self._write()

    def _provider(self, address: str, context: str = "") -> ProviderRecord:
        p = self._providers.get(address)
        if p is None:
            refuse("provider not registered", context)
        assert p is not None
        return p

    def update_provider(self, profile: ProviderProfile, sender: Account) -> TxReceipt:
        who = address_of(sender.address, "sender")
        for d in profile.domains:
            self._domain(d)
        p = self._provider(who, f"updating {who}")
        for d in p.profile.domains:  # swap-and-pop, as the registry does
            members = self._members[d]
            pos = members.index(who)
            members[pos] = members[-1]
            members.pop()
        for d in profile.domains:
            self._members[d].append(who)
        self._forget_evidence((*p.profile.domains, *profile.domains))
        p.profile = profile
        return self._write()

    def add_stake(self, amount: int, sender: Account) -> TxReceipt:
        who = self._pay_in(sender, amount)
        p = self._provider(who)
        require(amount > 0, "no value sent")
        self._balances[who] -= amount
        p.stake += amount
        self._forget_evidence(p.profile.domains)
        return self._write()

    def request_unstake(self, amount: int, sender: Account) -> TxReceipt:
        context = f"unstaking {amount_of(amount, 'amount')} wei"
        p = self._provider(address_of(sender.address, "sender"), context)
        require(amount > 0, "unstake amount must be positive", context)
        require(amount <= p.stake, "unstake amount exceeds stake", context)
        p.stake -= amount
        self._forget_evidence(p.profile.domains)
        p.unstaking += amount
        p.unlock_at = self._block_time() + self.params.cooldown
        return self._write()

    def withdraw_stake(self, sender: Account) -> TxReceipt:
        who = address_of(sender.address, "sender")
        p = self._providers.get(who)
        require(p is not None and p.unstaking > 0, "nothing to withdraw")
        assert p is not None
        require(self._block_time() >= p.unlock_at, "cooldown not over")
        self._balances[who] = self._balances.get(who, 0) + p.unstaking
        p.unstaking = 0
        return self._write()

    def slash(self, provider: str, amount: int, reason: int, sender: Account) -> TxReceipt:
        who = address_of(provider, "provider")
        context = f"slashing {provider}"
        amount_of(amount, "amount")
        allowed = address_of(sender.address, "sender") == self.governance
        require(allowed, "only settlement or governance may slash", context)
        p = self._provider(who, context)
        require(amount > 0, "slash amount must be positive", context)
        taken = min(amount, p.stake)
        rest = min(amount - taken, p.unstaking)
        p.stake -= taken
        self._forget_evidence(p.profile.domains)
        p.unstaking -= rest
        return self._write()

    def get_provider(self, address: str) -> ProviderInfo:
        who = address_of(address, "provider")
        p = self._provider(who, f"provider {who}")
        return ProviderInfo(who, p.profile, p.stake, p.unstaking, p.unlock_at, p.registered_at)

    def is_registered(self, address: str) -> bool:
        return address_of(address, "provider") in self._providers

    def providers(self, domain: str | None = None) -> list[ProviderInfo]:
        addresses = list(self._providers) if domain is None else list(self._members[self._domain(domain)])
        return [self.get_provider(a) for a in addresses]

    def candidates(self, domain: str) -> list[Candidate]:
        members = self._members[self._domain(domain)]
        return [Candidate(m, self._providers[m].stake, self._rep(m, domain)) for m in members]

    def evidence(self, domain: str) -> DomainEvidence:
        """:meth:`candidates` as arrays (evidence in whole observations, as
        :func:`llmnet.reputation.selection.evidence_arrays` gives): a simulation reads a domain of
        thousands of providers per batch, and the arrays are kept up to date by settlement."""
        name = self._domain(domain)
        book = self._evidence.get(name)
        if book is None:
            members = tuple(self._members[name])
            reps = [self._rep(m, name) for m in members]
            book = DomainEvidence(
                members, np.array([float(self._providers[m].stake) for m in members]),
                np.array([r.alpha / UNIT for r in reps]), np.array([r.beta / UNIT for r in reps]),
                np.array([float(r.count) for r in reps]),
            )  # fmt: skip
            self._evidence[name] = book
        return book

    def _forget_evidence(self, domains: Sequence[str]) -> None:
        for d in domains:
            self._evidence.pop(d, None)

    def _note_evidence(self, states: dict[tuple[str, str], RepState]) -> None:
        for (provider, domain), state in states.items():
            book = self._evidence.get(domain)
            if book is not None and provider in book.position:
                i = book.position[provider]
                book.alpha[i], book.beta[i], book.count[i] = state.alpha / UNIT, state.beta / UNIT, state.count

    def _rep(self, provider: str, domain: str) -> RepState:
        return self._reputation.get((provider, domain), RepState())

    def reputation(self, provider: str, domain: str) -> RepState:
        return self._rep(address_of(provider, "provider"), self._domain(domain))

    # ---- requesters and escrow
    def deposit(self, amount: int, sender: Account) -> TxReceipt:
        who = self._pay_in(sender, amount)
        require(amount > 0, "no value sent")
        self._balances[who] -= amount
        self._deposits[who] = self._deposits.get(who, 0) + amount
        return self._write()

    def withdraw_deposit(self, amount: int, sender: Account) -> TxReceipt:
        who = address_of(sender.address, "sender")
        context = f"withdrawing {amount_of(amount, 'amount')} wei"
        require(amount > 0, "amount must be positive", context)
        require(amount <= self._deposits.get(who, 0), "amount exceeds deposit", context)
        self._deposits[who] -= amount
        self._balances[who] = self._balances.get(who, 0) + amount
        return self._write()

    def approve(self, spender: str, amount: int, sender: Account) -> TxReceipt:
        key = (address_of(sender.address, "sender"), address_of(spender, "spender"))
        require(key[1] != ZERO_ADDRESS, "spender address is empty")
        self._allowances[key] = amount_of(amount, "amount")
        return self._write()

    def deposit_of(self, account: str) -> int:
        return self._deposits.get(address_of(account), 0)

    def allowance(self, owner: str, spender: str) -> int:
        return self._allowances.get((address_of(owner), address_of(spender)), 0)

    def _check_task(self, domain: str, n_respondents: int, deadline: int, fees: Sequence[int]) -> None:
        self._domain(domain)
        require(0 < n_respondents <= MAX_RESPONDENTS, "n_respondents must be 1..32")
        require(deadline > self._block_time(), "deadline must be in the future")
        require(deadline < 2**48, "deadline too large")
        # a batch of tasks often shares one fee: check each distinct plain int once
        for fee in set(fees) if all(type(f) is int for f in fees) else fees:
            require(amount_of(fee, "fee") > 0, "fee must be positive")
            require(fee % GWEI == 0, "fee must be a whole number of gwei")
            require(fee // GWEI <= MAX_FEE_GWEI, "fee too large")

    def _open(self, requester: str, domain: str, fees: Sequence[int], n: int, deadline: int) -> int:
        first = len(self._tasks)
        self._tasks.extend(TaskRecord(requester, domain, fee, deadline, n) for fee in fees)
        return first

    def open_task(
        self, domain: str, content_hash: str, n_respondents: int, deadline: int, fee: int, sender: Account
    ) -> TxReceipt:
        check_hash(content_hash, "content hash")
        who = self._pay_in(sender, fee)
        self._check_task(domain, n_respondents, deadline, [fee])
        self._balances[who] -= fee
        return self._write(self._open(who, domain, [fee], n_respondents, deadline))

    def open_tasks(
        self,
        requester: str,
        domain: str,
        content_hashes: Sequence[str],
        fees: Sequence[int],
        n_respondents: int,
        deadline: int,
        sender: Account,
    ) -> TxReceipt:
        owner, caller = address_of(requester, "requester"), address_of(sender.address, "sender")
        joined_hashes(content_hashes, "content hash")
        context = f"opening {len(fees)} tasks for {requester}"
        require(len(content_hashes) > 0, "no tasks given", context)
        require(len(content_hashes) == len(fees), "content_hashes and fees differ in length", context)
        self._check_task(domain, n_respondents, deadline, fees)
        total = sum(fees)
        require(total <= self._deposits.get(owner, 0), "fees exceed the requester's deposit", context)
        if caller != owner:
            allowed = self._allowances.get((owner, caller), 0)
            require(total <= allowed, "fees exceed the caller's allowance", context)
            self._allowances[(owner, caller)] = allowed - total
        self._deposits[owner] -= total
        return self._write(self._open(owner, domain, fees, n_respondents, deadline))

    def _task(self, task_id: int, context: str = "") -> TaskRecord:
        if not isinstance(task_id, int) or task_id < 0:
            raise InputError(f"task id must be a non-negative integer, got {task_id!r}")
        if task_id >= len(self._tasks):
            refuse("unknown task", context)
        return self._tasks[task_id]

    def refund(self, task_id: int, sender: Account) -> TxReceipt:
        context = f"refunding task {task_id}"
        task = self._task(task_id, context)
        require(task.status != TaskStatus.SETTLED, "task already settled", context)
        require(task.status != TaskStatus.REFUNDED, "task already refunded", context)
        require(self._block_time() > task.deadline, "deadline not reached", context)
        task.status = TaskStatus.REFUNDED
        self._deposits[task.requester] = self._deposits.get(task.requester, 0) + task.fee
        return self._write()

    def get_task(self, task_id: int) -> TaskInfo:
        t = self._task(task_id, f"task {task_id}")
        return TaskInfo(task_id, t.requester, t.domain, t.fee, t.deadline, t.n_respondents, t.status)

    def task_count(self) -> int:
        return len(self._tasks)

    # ---- settlement
    def settle_batch(self, batch: SettlementBatch, sender: Account) -> TxReceipt:
        settler = address_of(sender.address, "sender")
        context = f"settling {len(batch.task_ids)} tasks"
        payees = [(address_of(p.payee, "payee"), amount_of(p.amount, "payout")) for p in batch.payouts]
        for u in batch.updates:
            address_of(u.provider, "provider")
            self._domain(u.domain)
        root = check_hash(batch.receipts_root, "receipts root")
        require(settler in self._settlers, "only an authorised settler may settle", context)
        require(len(batch.task_ids) > 0, "empty batch", context)
        total = self._settleable_total(batch.task_ids, context)
        require(all(p != ZERO_ADDRESS for p, _ in payees), "payout to the empty address", context)
        require(sum(a for _, a in payees) == total, "payouts must equal the batch's escrowed fees", context)
        states = self._updated_reputation(batch, context)
        for task_id in batch.task_ids:
            self._tasks[task_id].status = TaskStatus.SETTLED
        for payee, amount in payees:
            self._credits[payee] = self._credits.get(payee, 0) + amount
        self._reputation.update(states)
        self._note_evidence(states)
        batch_id = len(self._batches)
        info = BatchInfo(batch_id, root, len(batch.task_ids), total, self._block_time(), settler=settler)
        receipt = self._write(batch_id)
        self._batches.append(replace(info, tx_hash=receipt.tx_hash))
        return receipt

    def _settleable_total(self, task_ids: Sequence[int], context: str) -> int:
        tasks = self._tasks
        if all(type(t) is int and 0 <= t < len(tasks) for t in task_ids) and len(set(task_ids)) == len(task_ids):
            records = [tasks[t] for t in task_ids]
            if all(r.status == TaskStatus.OPEN for r in records):  # the usual batch: one pass, no refusal
                return sum(r.fee for r in records)
        total, seen = 0, set()
        for task_id in task_ids:
            task = self._task(task_id, context)
            require(task.status != TaskStatus.SETTLED and task_id not in seen, "task already settled", context)
            require(task.status != TaskStatus.REFUNDED, "task already refunded", context)
            seen.add(task_id)
            total += task.fee
        return total

    def _updated_reputation(self, batch: SettlementBatch, context: str) -> dict[tuple[str, str], RepState]:
        """Every pair's new state, applied in order (a pair may appear twice), before any is stored."""
        states: dict[tuple[str, str], RepState] = {}
        now = self._block_time()
        for u in batch.updates:
            key = (address_of(u.provider), u.domain)
            try:
                states[key] = apply_update(states.get(key, self._rep(*key)), u.delta, self.decay, now)
            except OverflowError:
                refuse("reputation overflow", context)
        return states

    def get_batch(self, batch_id: int) -> BatchInfo:
        if not 0 <= batch_id < len(self._batches):
            refuse("unknown batch", f"batch {batch_id}; {len(self._batches)} batches are settled")
        return self._batches[batch_id]

    def batch_count(self) -> int:
        return len(self._batches)

    def verify_receipt(self, batch_id: int, receipt_hash: str, proof: Sequence[str]) -> bool:
        check_hash(receipt_hash, "receipt hash")
        if not 0 <= batch_id < len(self._batches):
            refuse("unknown batch", f"batch {batch_id}")
        return verify_proof(self._batches[batch_id].receipts_root, receipt_hash, proof)

    def credits_of(self, account: str) -> int:
        return self._credits.get(address_of(account), 0)

    def withdraw_credits(self, sender: Account) -> TxReceipt:
        who = address_of(sender.address, "sender")
        amount = self._credits.get(who, 0)
        require(amount > 0, "no credits to withdraw")
        self._credits[who] = 0
        self._balances[who] = self._balances.get(who, 0) + amount
        return self._write()
