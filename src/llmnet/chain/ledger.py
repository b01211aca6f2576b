"""The one interface every part of llmnet uses to read and write the ledger.

``Web3Ledger`` implements it against any Ethereum JSON-RPC node (the embedded
anvil by default) and an in-process EVM for unit tests; the simulation uses an
in-memory implementation with the same semantics. Write methods take the
sending account (an ``eth_account`` LocalAccount or anything with
``.address`` and ``.key``) and raise the typed errors of :mod:`llmnet.errors`
when the contract refuses; a refused write changes nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol

from llmnet.chain.provenance import VersionProvenance
from llmnet.reputation.beta import RepState
from llmnet.types import (
    BatchInfo,
    Candidate,
    CoordinatorInfo,
    DomainCard,
    ProviderInfo,
    ProviderProfile,
    SettlementBatch,
    TaskInfo,
    TxReceipt,
    ValidatorInfo,
)


class Account(Protocol):
    @property
    def address(self) -> str: ...

    @property
    def key(self) -> bytes: ...


class Ledger(ABC):
    """Providers, escrowed tasks, batched settlement and reputation."""

    # ---- chain facts
    @property
    @abstractmethod
    def chain_id(self) -> int: ...

    @property
    @abstractmethod
    def min_stake(self) -> int: ...

    @property
    @abstractmethod
    def decay(self) -> int: ...

    @abstractmethod
    def now(self) -> int:
        """The chain's current timestamp (latest block)."""

    # ---- governance
    @abstractmethod
    def add_domain(self, name: str, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def domains(self) -> list[str]: ...

    @abstractmethod
    def set_domain_card(self, card: DomainCard, sender: Account) -> TxReceipt:
        """Governance publishes (or replaces) a domain's description and reference corpus."""

    @abstractmethod
    def domain_cards(self) -> list[DomainCard]:
        """Every domain on chain with its card (an empty card where none was set), in the order added."""

    @abstractmethod
    def set_settler(self, settler: str, allowed: bool, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def is_settler(self, account: str) -> bool: ...

    @abstractmethod
    def settlers(self) -> list[str]:
        """Every account the escrow allows to settle, in the order allowed (one revoked is gone)."""

    # ---- providers
    @abstractmethod
    def register_provider(self, profile: ProviderProfile, stake: int, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def update_provider(self, profile: ProviderProfile, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def add_stake(self, amount: int, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def request_unstake(self, amount: int, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def withdraw_stake(self, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def slash(self, provider: str, amount: int, reason: int, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def get_provider(self, address: str) -> ProviderInfo: ...

    @abstractmethod
    def is_registered(self, address: str) -> bool: ...

    @abstractmethod
    def providers(self, domain: str | None = None) -> list[ProviderInfo]: ...

    @abstractmethod
    def candidates(self, domain: str) -> list[Candidate]:
        """Every provider of ``domain`` with stake and reputation, in one read."""

    @abstractmethod
    def reputation(self, provider: str, domain: str) -> RepState: ...

    # ---- expert versions: each its own provider, recorded by its owner with what it was made from
    @abstractmethod
    def name_owner(self, owner: str, sender: Account) -> TxReceipt:
        """A registered provider (``sender``) accepts to be recorded as a version of ``owner``'s model."""

    @abstractmethod
    def record_version(self, provenance: VersionProvenance, sender: Account) -> TxReceipt:
        """The owner (``sender``, a registered provider) records another registered provider, which
        named it with :meth:`name_owner`, as a version of its model, once; ``provenance.owner`` must
        be ``sender``."""

    @abstractmethod
    def provenance(self, version: str) -> VersionProvenance:
        """What was recorded for ``version``; UnknownProvider when nothing was."""

    @abstractmethod
    def versions_of(self, owner: str) -> list[str]:
        """The versions ``owner`` recorded, in the order recorded."""

    # ---- requesters and escrow
    @abstractmethod
    def deposit(self, amount: int, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def withdraw_deposit(self, amount: int, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def approve(self, spender: str, amount: int, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def deposit_of(self, account: str) -> int: ...

    @abstractmethod
    def allowance(self, owner: str, spender: str) -> int: ...

    @abstractmethod
    def open_task(
        self, domain: str, content_hash: str, n_respondents: int, deadline: int, fee: int, sender: Account
    ) -> TxReceipt:
        """Open one task paid with ``fee`` sent along; ``TxReceipt.value`` is the task id."""

    @abstractmethod
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
        """Open tasks paid from ``requester``'s deposit; ``value`` is the first task id."""

    @abstractmethod
    def refund(self, task_id: int, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def get_task(self, task_id: int) -> TaskInfo: ...

    @abstractmethod
    def task_count(self) -> int: ...

    # ---- settlement
    @abstractmethod
    def settle_batch(self, batch: SettlementBatch, sender: Account) -> TxReceipt:
        """Settle many tasks in one write; ``value`` is the batch id."""

    @abstractmethod
    def get_batch(self, batch_id: int) -> BatchInfo: ...

    @abstractmethod
    def batch_count(self) -> int: ...

    @abstractmethod
    def verify_receipt(self, batch_id: int, receipt_hash: str, proof: Sequence[str]) -> bool: ...

    @abstractmethod
    def credits_of(self, account: str) -> int: ...

    @abstractmethod
    def withdraw_credits(self, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def balance_of(self, account: str) -> int:
        """Native-currency balance of an account."""

    # ---- validators: stake, trust, commit-reveal of ratings
    @property
    @abstractmethod
    def validator_min_stake(self) -> int: ...

    @property
    @abstractmethod
    def epoch_length(self) -> int:
        """Seconds per rating epoch."""

    def pending_time(self) -> int:
        """The timestamp the next block will carry: what a transaction sent now is judged by.
        On an idle development chain the latest block can be minutes older."""
        return self.now()

    def current_epoch(self) -> int:
        """The rating epoch a transaction sent now lands in."""
        return self.pending_time() // self.epoch_length

    @abstractmethod
    def register_validator(
        self, endpoint: str, judge_model_id: str, judge_weights_hash: str, stake: int, sender: Account
    ) -> TxReceipt: ...

    @abstractmethod
    def get_validator(self, address: str) -> ValidatorInfo: ...

    @abstractmethod
    def is_validator(self, address: str) -> bool: ...

    @abstractmethod
    def validators(self) -> list[ValidatorInfo]: ...

    @abstractmethod
    def commit_ratings(self, epoch: int, commitment: str, sender: Account) -> TxReceipt:
        """Commit, during ``epoch + 1``, to the ratings made during ``epoch``."""

    @abstractmethod
    def reveal_ratings(self, epoch: int, ratings_root: str, count: int, salt: str, sender: Account) -> TxReceipt:
        """Reveal, during ``epoch + 2``, what was committed for ``epoch``."""

    @abstractmethod
    def revealed_root(self, validator: str, epoch: int) -> str | None: ...

    @abstractmethod
    def missed_reveal(self, validator: str, epoch: int) -> bool: ...

    @abstractmethod
    def set_trust(self, updates: Sequence[tuple[str, int]], sender: Account) -> TxReceipt:
        """(validator, trust in parts per million) pairs; settlers and governance only."""

    @abstractmethod
    def slash_validator(self, validator: str, amount: int, reason: int, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def update_validator(
        self, endpoint: str, judge_model_id: str, judge_weights_hash: str, sender: Account
    ) -> TxReceipt:
        """A registered validator moves to another public URL or judge."""

    @abstractmethod
    def add_validator_stake(self, amount: int, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def request_validator_unstake(self, amount: int, sender: Account) -> TxReceipt:
        """Start the cooldown on ``amount``; a validator with stake unstaking is given no work."""

    @abstractmethod
    def withdraw_validator_stake(self, sender: Account) -> TxReceipt: ...

    # ---- coordinators: staked, with the public URL they serve from (see llmnet.roles.admission)
    @abstractmethod
    def register_coordinator(self, endpoint: str, stake: int, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def update_coordinator(self, endpoint: str, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def add_coordinator_stake(self, amount: int, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def request_coordinator_unstake(self, amount: int, sender: Account) -> TxReceipt:
        """Start the cooldown on ``amount``; respondents and validators take no more work from it."""

    @abstractmethod
    def withdraw_coordinator_stake(self, sender: Account) -> TxReceipt: ...

    @abstractmethod
    def get_coordinator(self, address: str) -> CoordinatorInfo: ...

    @abstractmethod
    def is_coordinator(self, address: str) -> bool:
        """Registered as a coordinator (in good standing or not)."""

    @abstractmethod
    def coordinators(self) -> list[CoordinatorInfo]: ...
