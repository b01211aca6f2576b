"""The records and checks behind :class:`llmnet.chain.memory_ledger.MemoryLedger`: what each
contract stores, and refusals raised as the web3 ledger translates the contracts' reverts."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from llmnet.errors import InputError, revert_error
from llmnet.reputation.beta import DECAY_ONE
from llmnet.types import ETHER, ProviderProfile, TaskStatus, checksum

PPM = 1_000_000
ZERO_ADDRESS = "0x" + "00" * 20
MAX_RESPONDENTS = 32
MAX_FEE_GWEI = 2**62 - 1


@lru_cache(maxsize=1 << 16)
def _checksummed(address: str) -> str | None:
    try:
        return checksum(address)
    except InputError:
        return None


def address_of(address: str, what: str = "address") -> str:
    """:func:`llmnet.types.checksum`, remembered per address (whatever it names): a simulation
    names the same accounts millions of times."""
    known = _checksummed(address) if isinstance(address, str) else None
    return known if known is not None else checksum(address, what)


def refuse(reason: str, context: str = "") -> None:
    raise revert_error(reason, context)


def require(condition: bool, reason: str, context: str = "") -> None:
    if not condition:
        refuse(reason, context)


def amount_of(value: int, what: str) -> int:
    if not isinstance(value, int) or value < 0:
        raise InputError(f"{what} must be a non-negative integer amount in wei, got {value!r}")
    return value


@dataclass
class ProviderRecord:
    profile: ProviderProfile
    stake: int
    registered_at: int
    unstaking: int = 0
    unlock_at: int = 0


@dataclass
class TaskRecord:
    requester: str
    domain: str
    fee: int
    deadline: int
    n_respondents: int
    status: TaskStatus = TaskStatus.OPEN


@dataclass
class ValidatorRecord:
    endpoint: str
    judge_model_id: str
    judge_weights_hash: str
    stake: int
    trust_ppm: int
    registered_at: int
    unstaking: int = 0
    unlock_at: int = 0
    commitments: dict[int, str] = field(default_factory=dict)
    reveals: dict[int, str] = field(default_factory=dict)


@dataclass
class DomainEvidence:
    """A domain's members, in the registry's order, with stake and reputation evidence as arrays."""

    members: tuple[str, ...]
    stake: NDArray[np.float64]
    alpha: NDArray[np.float64]
    beta: NDArray[np.float64]
    count: NDArray[np.float64]
    position: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.position = {m: i for i, m in enumerate(self.members)}


@dataclass(frozen=True)
class MemoryParams:
    """What deployment fixes for the contracts (see :class:`llmnet.chain.deploy.DeployParams`)."""

    min_stake: int = ETHER // 10
    cooldown: int = 24 * 3600
    decay: int = 98 * DECAY_ONE // 100
    validator_min_stake: int = ETHER // 10
    epoch_length: int = 5
    initial_trust_ppm: int = 500_000
    chain_id: int = 31337
    start_time: int = 1_700_000_000


class Staked(Protocol):
    """A validator's or coordinator's stake in the validator book."""

    stake: int
    unstaking: int
    unlock_at: int


def start_unstake(record: Staked, amount: int, unlock_at: int, context: str) -> None:
    """Move ``amount`` of ``record``'s stake to unstaking until ``unlock_at``, as the validator book does."""
    require(amount > 0, "amount must be positive", context)
    require(amount <= record.stake, "amount exceeds the stake", context)
    record.stake -= amount
    record.unstaking += amount
    record.unlock_at = unlock_at


def take_unstaked(record: Staked | None, now: int, context: str) -> int:
    """What ``record`` may withdraw at ``now`` (it is then unstaking nothing), refused as the validator book does."""
    require(record is not None and record.unstaking > 0, "nothing is unstaking", context)
    assert record is not None
    require(now >= record.unlock_at, "cooldown not over", context)
    amount, record.unstaking = record.unstaking, 0
    return amount


@dataclass
class CoordinatorRecord:
    endpoint: str
    stake: int
    registered_at: int
    unstaking: int = 0
    unlock_at: int = 0
