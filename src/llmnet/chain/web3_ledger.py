"""The Ledger on a real EVM through web3.py (anvil, any JSON-RPC node, or eth-tester)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import MismatchedABI, Web3ValidationError

from llmnet.chain.abi_values import bytes32_arg as _b32
from llmnet.chain.abi_values import hex_of as _hex
from llmnet.chain.abi_values import wei_arg as _amount
from llmnet.chain.artifacts import load_artifact
from llmnet.chain.calls import ChainCall
from llmnet.chain.deploy import Deployment
from llmnet.chain.ledger import Account, Ledger
from llmnet.chain.transactions import MinedTx, TxSender, read, translate
from llmnet.chain.web3_members import Web3Members
from llmnet.chain.web3_validators import ESCROW, VALIDATORS, Web3Validators
from llmnet.chain.web3_versions import Web3Versions
from llmnet.errors import ContractRevert, InputError, NotDeployed, NotFound, UnknownDomain, UnknownTask
from llmnet.reputation.beta import RepState
from llmnet.types import (
    BatchInfo,
    Candidate,
    DomainCard,
    ProviderInfo,
    ProviderProfile,
    SettlementBatch,
    TaskInfo,
    TaskStatus,
    TxReceipt,
    checksum,
    domain_id,
)

REGISTRY = "ProviderRegistry"


def _event_topic(abi: Sequence[dict[str, Any]], name: str) -> bytes:
    entry = next(e for e in abi if e.get("type") == "event" and e["name"] == name)
    types = ",".join(i["type"] for i in entry["inputs"])
    return bytes(keccak(text=f"{name}({types})"))


def _name_id(name: str) -> str:
    # the ids of names already on chain, whatever governance chose, unvalidated
    return "0x" + keccak(text=name).hex()


class Web3Ledger(Web3Members, Web3Validators, Web3Versions, Ledger):
    """>>> ledger = Web3Ledger(Web3(Web3.HTTPProvider(url)), deployment)   # doctest: +SKIP"""

    def __init__(self, w3: Web3, deployment: Deployment, *, poll_latency: float = 0.005) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.tx = TxSender(w3, poll_latency=poll_latency)
        self.registry = self._contract("ProviderRegistry", deployment.registry)
        self.escrow = self._contract("TaskEscrow", deployment.escrow)
        self.validator_book = self._contract(VALIDATORS, deployment.validator_book)
        self._contracts = {REGISTRY: self.registry, ESCROW: self.escrow, VALIDATORS: self.validator_book}
        self._domain_names: dict[str, str] = {}

    def _contract(self, name: str, address: str) -> Any:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name)["abi"])

    def _call(self, fn: Any, context: str = "") -> Any:
        return read(fn, context)

    def function(self, call: ChainCall) -> Any:
        """The web3 contract function object for ``call``; arguments that do not fit raise InputError."""
        return self._bind(getattr(self._contracts[call.contract].functions, call.function), call.args)

    @staticmethod
    def _bind(fn: Any, args: Sequence[Any]) -> Any:
        try:
            return fn(*args)
        except (MismatchedABI, Web3ValidationError, TypeError) as exc:
            raise InputError(
                f"arguments {list(args)!r} do not fit {fn.fn_name}'s parameter types: {exc}".replace("\n", " ")
            ) from None

    def execute(self, call: ChainCall, sender: Account) -> MinedTx:
        """Simulate, sign, send and confirm ``call`` now (no outbox)."""
        return self.tx.send(self.function(call), sender, value=call.value, context=call.context)

    @staticmethod
    def _receipt(mined: MinedTx, value: int | None = None) -> TxReceipt:
        return TxReceipt(mined.tx_hash, mined.block_number, mined.gas_used, value)

    # ---- chain facts
    @property
    def chain_id(self) -> int:
        return self.deployment.chain_id

    @cached_property
    def min_stake(self) -> int:
        return int(self._call(self.registry.functions.min_stake()))

    @cached_property
    def decay(self) -> int:
        return int(self._call(self.escrow.functions.decay()))

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def pending_time(self) -> int:
        try:
            return int(self.w3.eth.get_block("pending")["timestamp"])
        except Exception as exc:
            raise translate(exc, "reading the pending block") from None

    def balance_of(self, account: str) -> int:
        return int(self.w3.eth.get_balance(checksum(account)))  # type: ignore[arg-type]

    # ---- domains
    def _domain(self, name: str) -> bytes:
        if name not in self._domain_names:
            self._domain_names = {d: _name_id(d) for d in self.domains()}
        if name not in self._domain_names:
            raise UnknownDomain(
                "unknown domain",
                f"{name!r} is not one of {sorted(self._domain_names)}; governance adds domains",
            )
        return bytes.fromhex(self._domain_names[name][2:])

    def _domain_name(self, ident: bytes) -> str:
        wanted = _hex(ident)
        for name, d in self._domain_names.items():
            if d == wanted:
                return name
        self._domain_names = {d: _name_id(d) for d in self.domains()}
        return next((n for n, d in self._domain_names.items() if d == wanted), wanted)

    def add_domain(self, name: str, sender: Account) -> TxReceipt:
        domain_id(name)  # validates the name
        return self._receipt(self.execute(ChainCall(REGISTRY, "add_domain", (name,), context=name), sender))

    def domains(self) -> list[str]:
        return list(self._call(self.registry.functions.domains()))

    def set_domain_card(self, card: DomainCard, sender: Account) -> TxReceipt:
        args = (self._domain(card.domain), card.description, _b32(card.corpus_hash, "corpus hash"), card.corpus_url)
        call = ChainCall(REGISTRY, "set_domain_card", args, context=f"the card of {card.domain!r}")
        return self._receipt(self.execute(call, sender))

    def domain_cards(self) -> list[DomainCard]:
        try:
            rows = self._call(self.registry.functions.domain_cards())
        except ContractRevert:  # a view with no checks reverts only where the function does not exist
            raise NotDeployed(
                f"the registry at {self.deployment.registry} predates domain cards; deploy this version's "
                "contracts on a fresh chain (`llmnet up` does so by itself)"
            ) from None
        return [DomainCard.from_chain(domain=name, description=description, corpus_hash=_hex(corpus_hash),
                                      corpus_url=url) for name, (description, corpus_hash, url) in rows]  # fmt: skip

    def set_settler(self, settler: str, allowed: bool, sender: Account) -> TxReceipt:
        call = ChainCall(ESCROW, "set_settler", (checksum(settler, "settler"), allowed))
        return self._receipt(self.execute(call, sender))

    def is_settler(self, account: str) -> bool:
        return bool(self._call(self.escrow.functions.settlers(checksum(account))))

    def settlers(self) -> list[str]:
        try:
            return [str(a) for a in self._call(self.escrow.functions.all_settlers())]
        except ContractRevert:  # a view with no checks reverts only where the function does not exist
            raise NotDeployed(
                f"the escrow at {self.deployment.escrow} predates the settler list; deploy this version's "
                "contracts on a fresh chain (`llmnet up` does so by itself)"
            ) from None

    # ---- providers
    def _profile_args(self, profile: ProviderProfile) -> tuple[Any, ...]:
        domains = [self._domain(d) for d in profile.domains]
        return (
            profile.endpoint,
            domains,
            profile.model_id,
            _b32(profile.weights_hash, "weights hash"),
            profile.model_version,
            profile.licence,
        )

    def register_call(self, profile: ProviderProfile, stake: int) -> ChainCall:
        context = f"registering with stake {_amount(stake, 'stake')} wei, minimum {self.min_stake}"
        return ChainCall(REGISTRY, "register", self._profile_args(profile), stake, context)

    def register_provider(self, profile: ProviderProfile, stake: int, sender: Account) -> TxReceipt:
        return self._receipt(self.execute(self.register_call(profile, stake), sender))

    def update_provider(self, profile: ProviderProfile, sender: Account) -> TxReceipt:
        call = ChainCall(REGISTRY, "update", self._profile_args(profile), context=f"updating {sender.address}")
        return self._receipt(self.execute(call, sender))

    def add_stake(self, amount: int, sender: Account) -> TxReceipt:
        return self._receipt(self.execute(ChainCall(REGISTRY, "add_stake", (), _amount(amount, "amount")), sender))

    def request_unstake(self, amount: int, sender: Account) -> TxReceipt:
        call = ChainCall(REGISTRY, "request_unstake", (_amount(amount, "amount"),), context=f"unstaking {amount} wei")
        return self._receipt(self.execute(call, sender))

    def withdraw_stake(self, sender: Account) -> TxReceipt:
        return self._receipt(self.execute(ChainCall(REGISTRY, "withdraw"), sender))

    def slash(self, provider: str, amount: int, reason: int, sender: Account) -> TxReceipt:
        args = (checksum(provider, "provider"), _amount(amount, "amount"), reason)
        return self._receipt(self.execute(ChainCall(REGISTRY, "slash", args, context=f"slashing {provider}"), sender))

    def get_provider(self, address: str) -> ProviderInfo:
        address = checksum(address, "provider")
        raw = self._call(self.registry.functions.get_provider(address), f"provider {address}")
        return self._provider_info(address, raw)

    def _provider_info(self, address: str, raw: Sequence[Any]) -> ProviderInfo:
        endpoint, model_id, weights, version, licence, stake, unstaking, unlock_at, registered_at, domains = raw
        profile = ProviderProfile.from_chain(
            endpoint=endpoint,
            domains=tuple(self._domain_name(d) for d in domains),
            model_id=model_id,
            weights_hash=_hex(weights),
            model_version=version,
            licence=licence,
        )
        return ProviderInfo(address, profile, stake, unstaking, unlock_at, registered_at)

    def is_registered(self, address: str) -> bool:
        return bool(self._call(self.registry.functions.is_registered(checksum(address, "provider"))))

    def providers(self, domain: str | None = None) -> list[ProviderInfo]:
        if domain is None:
            addresses = self._call(self.registry.functions.all_providers())
        else:
            members = self._call(self.registry.functions.domain_members(self._domain(domain)))
            addresses = [m[0] for m in members]
        return [self.get_provider(a) for a in addresses]

    def candidates(self, domain: str) -> list[Candidate]:
        rows = self._call(self.escrow.functions.domain_candidates(self._domain(domain)), domain)
        return [Candidate(provider=r[0], stake=r[1], reputation=RepState(r[2], r[3], r[4], r[5])) for r in rows]

    def reputation(self, provider: str, domain: str) -> RepState:
        fn = self.escrow.functions.get_reputation(checksum(provider, "provider"), self._domain(domain))
        return RepState(*self._call(fn))

    # ---- requesters and escrow
    def deposit(self, amount: int, sender: Account) -> TxReceipt:
        return self._receipt(self.execute(ChainCall(ESCROW, "deposit", (), _amount(amount, "amount")), sender))

    def withdraw_deposit(self, amount: int, sender: Account) -> TxReceipt:
        call = ChainCall(ESCROW, "withdraw_deposit", (_amount(amount, "amount"),), context=f"withdrawing {amount} wei")
        return self._receipt(self.execute(call, sender))

    def approve(self, spender: str, amount: int, sender: Account) -> TxReceipt:
        call = ChainCall(ESCROW, "approve", (checksum(spender, "spender"), _amount(amount, "amount")))
        return self._receipt(self.execute(call, sender))

    def deposit_of(self, account: str) -> int:
        return int(self._call(self.escrow.functions.deposits(checksum(account))))

    def allowance(self, owner: str, spender: str) -> int:
        return int(self._call(self.escrow.functions.allowance(checksum(owner), checksum(spender))))

    def open_task_call(self, domain: str, content_hash: str, n_respondents: int, deadline: int, fee: int) -> ChainCall:
        args = (self._domain(domain), _b32(content_hash, "content hash"), n_respondents, deadline)
        return ChainCall(ESCROW, "open_task", args, _amount(fee, "fee"), f"opening a task in {domain!r}")

    def open_task(
        self, domain: str, content_hash: str, n_respondents: int, deadline: int, fee: int, sender: Account
    ) -> TxReceipt:
        mined = self.execute(self.open_task_call(domain, content_hash, n_respondents, deadline, fee), sender)
        return self._receipt(mined, self.opened_task_ids(mined.logs)[0])

    def open_tasks_call(
        self,
        requester: str,
        domain: str,
        content_hashes: Sequence[str],
        fees: Sequence[int],
        n_respondents: int,
        deadline: int,
    ) -> ChainCall:
        args = (
            checksum(requester, "requester"),
            self._domain(domain),
            [_b32(h, "content hash") for h in content_hashes],
            [_amount(f, "fee") for f in fees],
            n_respondents,
            deadline,
        )
        return ChainCall(ESCROW, "open_tasks", args, context=f"opening {len(fees)} tasks for {requester}")

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
        call = self.open_tasks_call(requester, domain, content_hashes, fees, n_respondents, deadline)
        mined = self.execute(call, sender)
        return self._receipt(mined, self.opened_task_ids(mined.logs)[0])

    def refund(self, task_id: int, sender: Account) -> TxReceipt:
        call = ChainCall(ESCROW, "refund", (task_id,), context=f"refunding task {task_id}")
        return self._receipt(self.execute(call, sender))

    def get_task(self, task_id: int) -> TaskInfo:
        raw = self._call(self._bind(self.escrow.functions.get_task, (task_id,)), f"task {task_id}")
        requester, domain_index, fee, deadline, n, status = raw
        names = self.domains()
        domain = names[domain_index - 1] if 0 < domain_index <= len(names) else str(domain_index)
        return TaskInfo(task_id, requester, domain, fee, deadline, n, TaskStatus(status))

    def task_count(self) -> int:
        return int(self._call(self.escrow.functions.next_task_id()))

    # ---- settlement
    def settlement_call(self, batch: SettlementBatch) -> ChainCall:
        """The contract call that settles ``batch``."""
        payouts = [(checksum(p.payee, "payee"), _amount(p.amount, "payout")) for p in batch.payouts]
        updates = [
            (checksum(u.provider, "provider"), self._domain(u.domain), u.delta.count, u.delta.successes,
             u.delta.failures)
            for u in batch.updates
        ]  # fmt: skip
        root = _b32(batch.receipts_root, "receipts root")
        args = (list(batch.task_ids), payouts, updates, root)
        return ChainCall(ESCROW, "settle_batch", args, context=f"settling {len(batch.task_ids)} tasks")

    def settle_batch(self, batch: SettlementBatch, sender: Account) -> TxReceipt:
        mined = self.execute(self.settlement_call(batch), sender)
        return self._receipt(mined, self.settled_batch_ids(mined.logs)[0])

    def get_batch(self, batch_id: int) -> BatchInfo:
        if not 0 <= batch_id < self.batch_count():
            raise UnknownTask("unknown batch", f"batch {batch_id}; {self.batch_count()} batches are settled")
        logs = self.escrow.events.BatchSettled().get_logs(
            from_block=self.deployment.block_number, argument_filters={"batch_id": batch_id}
        )
        if not logs:
            raise NotFound(
                f"batch {batch_id} is settled (its root is {self.batch_root(batch_id)}) but its BatchSettled event "
                "is older than the blocks the node keeps; keep more with chain_retention.history_blocks"
            )
        args = logs[0]["args"]
        settled_at = int(self.w3.eth.get_block(logs[0]["blockNumber"])["timestamp"])
        return BatchInfo(
            batch_id, _hex(args["receipts_root"]), args["task_count"], args["total_fees"], settled_at,
            tx_hash=logs[0]["transactionHash"].to_0x_hex(), settler=args["settler"],
        )  # fmt: skip

    def batch_root(self, batch_id: int) -> str:
        """The receipts root the contract stores for a settled batch (kept however old the batch)."""
        return _hex(self._call(self.escrow.functions.batch_roots(batch_id)))

    def batch_count(self) -> int:
        return int(self._call(self.escrow.functions.batch_count()))

    def verify_receipt(self, batch_id: int, receipt_hash: str, proof: Sequence[str]) -> bool:
        args = (batch_id, _b32(receipt_hash, "receipt hash"), [_b32(p, "proof node") for p in proof])
        fn = self._bind(self.escrow.functions.verify_receipt, args)
        return bool(self._call(fn, f"batch {batch_id}"))

    def credits_of(self, account: str) -> int:
        return int(self._call(self.escrow.functions.credits(checksum(account))))

    def withdraw_credits(self, sender: Account) -> TxReceipt:
        return self._receipt(self.execute(ChainCall(ESCROW, "withdraw_credits"), sender))

    # ---- events
    def opened_task_ids(self, logs: Sequence[Any]) -> list[int]:
        return self._indexed_ids(logs, "TaskOpened")

    def settled_batch_ids(self, logs: Sequence[Any]) -> list[int]:
        return self._indexed_ids(logs, "BatchSettled")

    def _indexed_ids(self, logs: Sequence[Any], event: str) -> list[int]:
        """The first indexed argument (task_id, batch_id) of our contract's ``event`` logs, read
        straight from the topics: web3's full event decoding costs about a millisecond per log."""
        signature = _event_topic(self.escrow.abi, event)
        escrow = self.escrow.address.lower()
        return [
            int.from_bytes(bytes(log["topics"][1]), "big")
            for log in logs
            if str(log["address"]).lower() == escrow and bytes(log["topics"][0]) == signature
        ]
