"""Plain value objects shared by the chain layer, the roles and the simulation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from eth_utils.address import is_checksum_address, is_hex_address
from eth_utils.crypto import keccak
from sha3 import keccak_256

from llmnet.errors import InputError
from llmnet.reputation.beta import RepDelta, RepState

ETHER = 10**18
GWEI = 10**9
ZERO_HASH = "0x" + "00" * 32
_HASH_RE = re.compile(r"0x[0-9a-fA-F]{64}")
_HASHES_RE = re.compile(r"(?:0x[0-9a-fA-F]{64})*")
_DOMAIN_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")


def ether(wei: int) -> str:
    """Readable amounts at any scale: 1.5 ETH, 30,000 gwei."""
    if wei == 0 or wei >= 10**15:
        return f"{wei / 10**18:.6g} ETH"
    return f"{wei / 10**9:,.6g} gwei"


def checksum(address: str, what: str = "address") -> str:
    """Return the checksummed form of ``address`` or raise InputError naming it."""
    if not isinstance(address, str) or not address.startswith("0x") or not is_hex_address(address):
        raise InputError(f"{what} {address!r} is not an Ethereum address (expected 0x followed by 40 hex digits)")
    mixed_case = address[2:] != address[2:].lower() and address[2:] != address[2:].upper()
    if mixed_case and not is_checksum_address(address):
        raise InputError(f"{what} {address!r} has a wrong EIP-55 checksum; copy the address again")
    return _eip55(address)


def _eip55(address: str) -> str:
    """EIP-55: a hex letter is upper case where the keccak of the lower-case address has a nibble
    of 8 or more (what ``eth_utils.to_checksum_address`` returns, at a tenth of its cost)."""
    lower = address[2:].lower()
    digest = keccak_256(lower.encode("ascii")).hexdigest()
    return "0x" + "".join(c.upper() if d in "89abcdef" else c for c, d in zip(lower, digest[:40], strict=True))


def check_hash(value: str, what: str = "hash") -> str:
    if not isinstance(value, str) or not _HASH_RE.fullmatch(value):
        raise InputError(f"{what} {value!r} is not a 32-byte hash (expected 0x followed by 64 hex digits)")
    return value.lower()


def joined_hashes(values: Sequence[str], what: str = "hash") -> str:
    """The values, each checked as :func:`check_hash` checks one, concatenated and lowercased: one
    pass over a settlement batch's thousands of hashes. Every ``0x`` in it starts a hash."""
    if set(map(type, values)) <= {str} and set(map(len, values)) <= {66}:
        joined = "".join(values)
        if _HASHES_RE.fullmatch(joined):
            return joined.lower()
    for v in values:
        check_hash(v, what)  # names the first bad one
    raise AssertionError("unreachable: a value failed the batch check but passed check_hash")


def check_domain_name(name: str) -> str:
    if not isinstance(name, str) or not _DOMAIN_RE.fullmatch(name):
        raise InputError(
            f"domain {name!r} is not a valid domain name "
            "(1-32 characters: lowercase letters, digits, '_', '-', '.', starting with a letter or digit)"
        )
    return name


def _utf8_len(text: str) -> int:
    # the contracts' String[n] limits count bytes
    return len(text.encode())


def domain_id(name: str) -> str:
    """The bytes32 id of a domain on chain: keccak256 of its name."""
    return "0x" + keccak(text=check_domain_name(name)).hex()


class TaskStatus(IntEnum):
    OPEN = 0
    SETTLED = 1
    REFUNDED = 2


class SlashReason(IntEnum):
    OTHER = 0
    WRONG_MODEL = 1
    FAILED_DELIVERY = 2
    FRAUD = 3


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """What a respondent declares when it registers."""

    endpoint: str
    domains: tuple[str, ...]
    model_id: str
    weights_hash: str = ZERO_HASH
    model_version: str = ""
    licence: str = ""

    def __post_init__(self) -> None:
        if not self.endpoint:
            raise InputError("endpoint is empty: give the URL the respondent serves on")
        if _utf8_len(self.endpoint) > 256:
            raise InputError(f"endpoint is {_utf8_len(self.endpoint)} bytes in UTF-8; the limit is 256")
        if not self.model_id or _utf8_len(self.model_id) > 128:
            raise InputError("model id must be 1-128 bytes in UTF-8")
        if not self.domains or len(self.domains) > 8:
            raise InputError(f"a provider needs 1-8 domains, got {len(self.domains)}")
        for d in self.domains:
            check_domain_name(d)
        if len(set(self.domains)) != len(self.domains):
            raise InputError(f"duplicate domain in {list(self.domains)}")
        check_hash(self.weights_hash, "weights hash")
        if _utf8_len(self.model_version) > 64 or _utf8_len(self.licence) > 64:
            raise InputError("model version and licence must be at most 64 bytes in UTF-8 each")

    @classmethod
    def from_chain(cls, **fields: object) -> ProviderProfile:
        """A profile as the chain holds it, unvalidated: governance may have named domains
        in ways this client would not accept for new input."""
        profile = object.__new__(cls)
        for name, value in fields.items():
            object.__setattr__(profile, name, value)
        return profile


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    address: str
    profile: ProviderProfile
    stake: int
    unstaking: int
    unlock_at: int
    registered_at: int


CARD_DESCRIPTION_BYTES, CARD_URL_BYTES = 256, 128  # the registry's String[256] and String[128]


@dataclass(frozen=True, slots=True)
class DomainCard:
    """What a domain publishes on chain: a short description, and the hash of its reference corpus
    (see :mod:`llmnet.experts.corpus`) with the URL it is served from. A domain governance never
    gave a card has an empty one.

    >>> DomainCard("law", "Courts, contracts and deadlines.").has_corpus
    False
    """

    domain: str
    description: str = ""
    corpus_hash: str = ZERO_HASH
    corpus_url: str = ""

    def __post_init__(self) -> None:
        check_domain_name(self.domain)
        if _utf8_len(self.description) > CARD_DESCRIPTION_BYTES:
            raise InputError(
                f"the description of {self.domain!r} is {_utf8_len(self.description)} bytes in UTF-8; "
                f"the limit is {CARD_DESCRIPTION_BYTES}: shorten it"
            )
        check_hash(self.corpus_hash, "corpus hash")
        if _utf8_len(self.corpus_url) > CARD_URL_BYTES:
            raise InputError(f"corpus URL {self.corpus_url!r} is longer than {CARD_URL_BYTES} bytes")
        if self.corpus_url and not self.corpus_url.startswith(("http://", "https://")):
            raise InputError(f"corpus URL {self.corpus_url!r} must start with http:// or https://")
        if (self.corpus_hash == ZERO_HASH) != (not self.corpus_url):
            raise InputError("a corpus hash and a corpus URL go together: give both or neither")

    @property
    def has_corpus(self) -> bool:
        return self.corpus_hash != ZERO_HASH

    @classmethod
    def from_chain(cls, **fields: str) -> DomainCard:
        """A card as the chain holds it, unvalidated (governance may name domains this client would not)."""
        card = object.__new__(cls)
        for name, value in fields.items():
            object.__setattr__(card, name, value)
        return card


@dataclass(frozen=True, slots=True)
class ValidatorInfo:
    """A staked validator: its judge model, stake and trust (parts per million)."""

    address: str
    endpoint: str
    judge_model_id: str
    judge_weights_hash: str
    stake: int
    unstaking: int
    unlock_at: int
    trust_ppm: int
    registered_at: int

    @property
    def trust(self) -> float:
        return self.trust_ppm / 1_000_000

    def in_good_standing(self, min_stake: int) -> bool:
        return in_good_standing(self.stake, self.unstaking, min_stake)


@dataclass(frozen=True, slots=True)
class CoordinatorInfo:
    """A staked coordinator and the public URL it serves requesters from."""

    address: str
    endpoint: str
    stake: int
    unstaking: int
    unlock_at: int
    registered_at: int

    def in_good_standing(self, min_stake: int) -> bool:
        return in_good_standing(self.stake, self.unstaking, min_stake)


def in_good_standing(stake: int, unstaking: int, min_stake: int) -> bool:
    """Who is given work (validators) or taken work from (coordinators): staked at least the
    minimum, so not slashed below it, and not leaving (no unstake pending)."""
    return stake >= min_stake and unstaking == 0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A provider of one domain with its stake and reputation, as selection sees it."""

    provider: str
    stake: int
    reputation: RepState

    @property
    def mean(self) -> float:
        return self.reputation.mean()


@dataclass(frozen=True, slots=True)
class TaskInfo:
    task_id: int
    requester: str
    domain: str
    fee: int
    deadline: int
    n_respondents: int
    status: TaskStatus


@dataclass(frozen=True, slots=True)
class Payout:
    payee: str
    amount: int


@dataclass(frozen=True, slots=True)
class RepUpdate:
    provider: str
    domain: str
    delta: RepDelta


@dataclass(frozen=True, slots=True)
class SettlementBatch:
    task_ids: tuple[int, ...]
    payouts: tuple[Payout, ...]
    updates: tuple[RepUpdate, ...]
    receipts_root: str = ZERO_HASH


@dataclass(frozen=True, slots=True)
class BatchInfo:
    batch_id: int
    receipts_root: str
    task_count: int
    total_fees: int
    settled_at: int
    tx_hash: str = ""
    settler: str = ""


@dataclass(frozen=True, slots=True)
class TxReceipt:
    """What a write returned: its transaction and, for calls with a result, the value."""

    tx_hash: str
    block_number: int
    gas_used: int
    value: int | None = None
    logs: tuple[dict[str, object], ...] = field(default=())
