"""EIP-712 typed-data signing: the one place llmnet signs and verifies messages.

Each message type is a frozen pydantic model that declares its EIP-712 type name,
its fields with their Solidity types (snake_case here, camelCase in the typed
data) and which address field names the signer. Anyone can rebuild the exact
structure that was signed with :func:`typed_data` and check it on chain or in a
wallet.

    >>> domain = SigningDomain(chain_id=31337, verifying_contract=registry_address)  # doctest: +SKIP
    >>> signed = sign(request, account, domain)  # doctest: +SKIP
    >>> verify(signed, domain, expected_signer=account.address)  # doctest: +SKIP
    '0x...'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

import coincurve
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_checksum_address, to_checksum_address
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError
from pydantic_core import ErrorDetails

from llmnet.errors import InputError, SignatureError
from llmnet.hashing import keccak256

__all__ = [
    "MAX_SCORE",
    "OutcomeClaim",
    "Rating",
    "RatingAssignment",
    "Response",
    "SignedMessage",
    "SigningDomain",
    "SpotCheck",
    "TaskAssignment",
    "TaskRequest",
    "TypedMessage",
    "personal_digest",
    "recover_digest",
    "sign",
    "sign_digest",
    "typed_data",
    "typed_data_hash",
    "verify",
]

MAX_SCORE = 1000  # a 0-10 rating times 100
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_BYTES32_RE = re.compile(r"0x[0-9a-fA-F]{64}")
_SIGNATURE_RE = re.compile(r"0x[0-9a-fA-F]{130}")
_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def _is_address(value: object) -> bool:
    if not isinstance(value, str) or not _ADDRESS_RE.fullmatch(value):
        return False
    digits = value[2:]
    # mixed case carries an EIP-55 checksum, which must then be right
    return digits.islower() or digits.isupper() or digits.isdigit() or is_checksum_address(value)


def _checksum_address(value: object) -> str:
    if not isinstance(value, str):
        raise InputError(f"{value!r} is not an address: expected 0x followed by 40 hex digits")
    return _checksum_str(value)


@lru_cache(maxsize=8192)
def _checksum_str(value: str) -> str:
    # cached: every message carries addresses, and EIP-55 costs a keccak each time
    if not _is_address(value):
        raise InputError(
            f"{value!r} is not an address: expected 0x followed by 40 hex digits "
            "(mixed case must match the EIP-55 checksum)"
        )
    return to_checksum_address(value)


def _bytes32(value: object) -> str:
    if isinstance(value, bytes) and len(value) == 32:
        return "0x" + value.hex()
    if not isinstance(value, str) or not _BYTES32_RE.fullmatch(value):
        raise InputError(f"{value!r} is not a bytes32 value: expected 0x followed by 64 hex digits")
    return value.lower()


@dataclass(frozen=True)
class _Sol:
    """Marks a field annotation with its Solidity type."""

    name: str


Address = Annotated[str, BeforeValidator(_checksum_address), _Sol("address")]
Bytes32 = Annotated[str, BeforeValidator(_bytes32), _Sol("bytes32")]
Text = Annotated[str, Strict(), Field(min_length=1, max_length=256), _Sol("string")]
Uint8 = Annotated[int, Strict(), Field(ge=0, le=2**8 - 1), _Sol("uint8")]
Uint16 = Annotated[int, Strict(), Field(ge=0, le=2**16 - 1), _Sol("uint16")]
Uint32 = Annotated[int, Strict(), Field(ge=0, le=2**32 - 1), _Sol("uint32")]
Uint64 = Annotated[int, Strict(), Field(ge=0, le=2**64 - 1), _Sol("uint64")]
Uint256 = Annotated[int, Strict(), Field(ge=0, le=2**256 - 1), _Sol("uint256")]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _solidity_type(metadata: list[Any]) -> str | None:
    return next((item.name for item in metadata if isinstance(item, _Sol)), None)


def _describe(error: ErrorDetails) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "message"
    cause = error.get("ctx", {}).get("error")
    return f"{where}: {cause if isinstance(cause, InputError) else error['msg']}"


class TypedMessage(BaseModel):
    """Base of every signable message; subclasses declare their EIP-712 shape."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    EIP712_TYPE: ClassVar[str]
    EIP712_FIELDS: ClassVar[list[tuple[str, str]]]
    SIGNER_FIELD: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # the declared EIP-712 fields must be exactly the model's fields, so they cannot drift apart
        actual = [(name, _solidity_type(info.metadata)) for name, info in cls.model_fields.items()]
        if actual != cls.EIP712_FIELDS:
            raise TypeError(f"{cls.__name__}.EIP712_FIELDS {cls.EIP712_FIELDS} do not match fields {actual}")
        if (cls.SIGNER_FIELD, "address") not in cls.EIP712_FIELDS:
            raise TypeError(f"{cls.__name__}.SIGNER_FIELD {cls.SIGNER_FIELD!r} is not an address field")

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Self:
        """Build from a dict of snake_case fields; :class:`InputError` lists what is wrong."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(_describe(err) for err in exc.errors())
            raise InputError(f"invalid {cls.EIP712_TYPE}: {problems}") from None

    @classmethod
    def eip712_types(cls) -> list[dict[str, str]]:
        return [{"name": _camel(name), "type": sol} for name, sol in cls.EIP712_FIELDS]

    def eip712_message(self) -> dict[str, Any]:
        """Field values keyed by their camelCase EIP-712 names."""
        return {_camel(name): getattr(self, name) for name, _ in self.EIP712_FIELDS}

    @property
    def claimed_signer(self) -> str:
        """The address this message says signed it (its ``SIGNER_FIELD``)."""
        return str(getattr(self, self.SIGNER_FIELD))


class TaskRequest(TypedMessage):
    """A requester asks for answers to the prompt stored under ``content_hash``."""

    EIP712_TYPE: ClassVar[str] = "TaskRequest"
    EIP712_FIELDS: ClassVar[list[tuple[str, str]]] = [
        ("requester", "address"),
        ("domain", "string"),
        ("content_hash", "bytes32"),
        ("fee", "uint256"),
        ("n_respondents", "uint8"),
        ("deadline", "uint64"),
        ("nonce", "uint256"),
    ]
    SIGNER_FIELD: ClassVar[str] = "requester"

    requester: Address
    domain: Text
    content_hash: Bytes32
    fee: Uint256  # wei
    n_respondents: Uint8
    deadline: Uint64  # unix seconds
    nonce: Uint256


class TaskAssignment(TypedMessage):
    """A coordinator hands a task to one respondent for one round."""

    EIP712_TYPE: ClassVar[str] = "TaskAssignment"
    EIP712_FIELDS: ClassVar[list[tuple[str, str]]] = [
        ("task_id", "uint256"),
        ("coordinator", "address"),
        ("respondent", "address"),
        ("content_hash", "bytes32"),
        ("round", "uint8"),
        ("deadline", "uint64"),
    ]
    SIGNER_FIELD: ClassVar[str] = "coordinator"

    task_id: Uint256
    coordinator: Address
    respondent: Address
    content_hash: Bytes32
    round: Uint8
    deadline: Uint64


class RatingAssignment(TypedMessage):
    """A coordinator asks one validator to rate one round of a task's answers: ``content_hash``
    commits to the whole rate request (question, reference, each answer's text and signed response)."""

    EIP712_TYPE: ClassVar[str] = "RatingAssignment"
    EIP712_FIELDS: ClassVar[list[tuple[str, str]]] = [
        ("task_id", "uint256"),
        ("coordinator", "address"),
        ("validator", "address"),
        ("content_hash", "bytes32"),
        ("round", "uint8"),
        ("deadline", "uint64"),
    ]
    SIGNER_FIELD: ClassVar[str] = "coordinator"

    task_id: Uint256
    coordinator: Address
    validator: Address
    content_hash: Bytes32
    round: Uint8
    deadline: Uint64  # unix seconds


class Response(TypedMessage):
    """A respondent's answer, stored under ``content_hash``, and the model that wrote it."""

    EIP712_TYPE: ClassVar[str] = "Response"
    EIP712_FIELDS: ClassVar[list[tuple[str, str]]] = [
        ("task_id", "uint256"),
        ("respondent", "address"),
        ("content_hash", "bytes32"),
        ("model_id", "string"),
        ("weights_hash", "bytes32"),
        ("round", "uint8"),
        ("prompt_tokens", "uint32"),
        ("completion_tokens", "uint32"),
        ("request_hash", "bytes32"),
    ]
    SIGNER_FIELD: ClassVar[str] = "respondent"

    task_id: Uint256
    respondent: Address
    content_hash: Bytes32
    model_id: Text
    weights_hash: Bytes32
    round: Uint8
    prompt_tokens: Uint32
    completion_tokens: Uint32
    request_hash: Bytes32 = "0x" + "00" * 32  # the assignment's content hash: what was asked, exactly


class SpotCheck(TypedMessage):
    """A validator re-ran a respondent's registered weights on the same request with the same
    deterministic settings and got ``recomputed_hash`` where the respondent signed ``claimed_hash``.
    Enough of these convict the respondent on chain (TaskEscrow.convict)."""

    EIP712_TYPE: ClassVar[str] = "SpotCheck"
    EIP712_FIELDS: ClassVar[list[tuple[str, str]]] = [
        ("task_id", "uint256"),
        ("respondent", "address"),
        ("request_hash", "bytes32"),
        ("weights_hash", "bytes32"),
        ("claimed_hash", "bytes32"),
        ("recomputed_hash", "bytes32"),
        ("validator", "address"),
    ]
    SIGNER_FIELD: ClassVar[str] = "validator"

    task_id: Uint256
    respondent: Address
    request_hash: Bytes32
    weights_hash: Bytes32
    claimed_hash: Bytes32
    recomputed_hash: Bytes32
    validator: Address


class Rating(TypedMessage):
    """A validator's score for one response: 0..1000, a 0-10 rating times 100.

    ``epoch`` is the rating epoch (chain time // the validator book's epoch length) in which it
    was made: the validator commits to all of an epoch's ratings in the next epoch and reveals
    them in the one after, and only revealed ratings are settled."""

    EIP712_TYPE: ClassVar[str] = "Rating"
    EIP712_FIELDS: ClassVar[list[tuple[str, str]]] = [
        ("task_id", "uint256"),
        ("validator", "address"),
        ("respondent", "address"),
        ("response_hash", "bytes32"),
        ("score", "uint16"),
        ("round", "uint8"),
        ("epoch", "uint64"),
    ]
    SIGNER_FIELD: ClassVar[str] = "validator"

    task_id: Uint256
    validator: Address
    respondent: Address
    response_hash: Bytes32
    score: Annotated[Uint16, Field(le=MAX_SCORE)]
    round: Uint8
    epoch: Uint64 = 0


class OutcomeClaim(TypedMessage):
    """A coordinator's claim that the task it opened on chain as ``task_id`` was answered as its
    receipt says: signed after opening, it binds every field settlement pays by.

    ``receipt_hash`` covers the receipt (requester, domain, fee and its split, respondents and
    their failures, validators); ``evidence_hash`` covers the exact signed responses and ratings
    handed to the settler (:meth:`llmnet.roles.outcome.TaskRecord.evidence_hash`), so none can be
    added, dropped or swapped, and ``task_id`` ties all of it to one on-chain task."""

    EIP712_TYPE: ClassVar[str] = "OutcomeClaim"
    EIP712_FIELDS: ClassVar[list[tuple[str, str]]] = [
        ("task_id", "uint256"),
        ("task_key", "uint256"),
        ("coordinator", "address"),
        ("requester", "address"),
        ("domain", "string"),
        ("fee", "uint256"),
        ("receipt_hash", "bytes32"),
        ("evidence_hash", "bytes32"),
    ]
    SIGNER_FIELD: ClassVar[str] = "coordinator"

    task_id: Uint256  # on chain
    task_key: Uint256  # the id the signed assignments, responses and ratings carry
    coordinator: Address
    requester: Address
    domain: Text
    fee: Uint256  # wei
    receipt_hash: Bytes32
    evidence_hash: Bytes32


@dataclass(frozen=True)
class SigningDomain:
    """The EIP-712 domain: which chain and contract a signature is good for."""

    chain_id: int
    verifying_contract: str
    name: str = "llmnet"
    version: str = "1"

    def __post_init__(self) -> None:
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int) or self.chain_id < 1:
            raise InputError(f"chain id {self.chain_id!r} is invalid: expected a positive integer")
        object.__setattr__(self, "verifying_contract", _checksum_address(self.verifying_contract))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


M = TypeVar("M", bound=TypedMessage)


@dataclass(frozen=True)
class SignedMessage(Generic[M]):
    """A message, its 65-byte signature as 0x hex, and the address that claims to have signed it."""

    message: M
    signature: str
    signer: str

    def __post_init__(self) -> None:
        if not isinstance(self.signature, str):
            raise InputError(f"signature must be a 0x hex string, not {type(self.signature).__name__}")
        object.__setattr__(self, "signer", _checksum_address(self.signer))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.message.EIP712_TYPE,
            "message": self.message.model_dump(mode="json"),
            "signature": self.signature,
            "signer": self.signer,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], message_cls: type[M]) -> SignedMessage[M]:
        """Inverse of :meth:`to_dict`; the message is parsed as ``message_cls``."""
        missing = [key for key in ("message", "signature", "signer") if key not in data]
        if missing:
            raise InputError(f"signed message is missing {', '.join(missing)}")
        kind = data.get("type", message_cls.EIP712_TYPE)
        if kind != message_cls.EIP712_TYPE:
            raise InputError(f"signed message is a {kind!r}, expected a {message_cls.EIP712_TYPE!r}")
        message = message_cls.parse(data["message"])
        return cls(message=message, signature=data["signature"], signer=data["signer"])


def typed_data(message: TypedMessage, domain: SigningDomain) -> dict[str, Any]:
    """The full EIP-712 structure (``types``, ``primaryType``, ``domain``, ``message``)."""
    return {
        "types": {"EIP712Domain": list(_DOMAIN_FIELDS), message.EIP712_TYPE: message.eip712_types()},
        "primaryType": message.EIP712_TYPE,
        "domain": domain.as_dict(),
        "message": message.eip712_message(),
    }


def _signable(message: TypedMessage, domain: SigningDomain) -> SignableMessage:
    """The general encoder, kept to cross-check :func:`_digest` in the tests."""
    return encode_typed_data(full_message=typed_data(message, domain))


@lru_cache(maxsize=64)
def _domain_separator(domain: SigningDomain) -> bytes:
    type_hash = keccak256(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    return keccak256(
        type_hash
        + keccak256(domain.name.encode())
        + keccak256(domain.version.encode())
        + domain.chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(domain.verifying_contract[2:])
    )


@lru_cache(maxsize=64)
def _type_hash(cls: type[TypedMessage]) -> bytes:
    fields = ",".join(f"{sol} {_camel(name)}" for name, sol in cls.EIP712_FIELDS)
    return keccak256(f"{cls.EIP712_TYPE}({fields})".encode())


_ADDRESS_PAD = bytes(12)
# our messages are flat: atomic types and strings only; anything else is a uintN
_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "string": lambda value: keccak256(value.encode()),
    "bytes32": lambda value: bytes.fromhex(value[2:]),
    "address": lambda value: _ADDRESS_PAD + bytes.fromhex(value[2:]),
}


def _encode_uint(value: Any) -> bytes:
    return int(value).to_bytes(32, "big")


@lru_cache(maxsize=64)
def _field_encoders(cls: type[TypedMessage]) -> tuple[tuple[str, Callable[[Any], bytes]], ...]:
    # chosen once per message class: every request signs or verifies several messages
    return tuple((name, _ENCODERS.get(sol, _encode_uint)) for name, sol in cls.EIP712_FIELDS)


def _digest(message: TypedMessage, domain: SigningDomain) -> bytes:
    """keccak256(0x1901 ++ domainSeparator ++ hashStruct(message)), as EIP-712 defines it."""
    cls = type(message)
    encoded = b"".join([encode(getattr(message, name)) for name, encode in _field_encoders(cls)])
    struct_hash = keccak256(_type_hash(cls) + encoded)
    return keccak256(b"\x19\x01" + _domain_separator(domain) + struct_hash)


def typed_data_hash(message: TypedMessage, domain: SigningDomain) -> str:
    """The EIP-712 digest that is signed, as 0x hex (what ``ecrecover`` takes on chain)."""
    return "0x" + _digest(message, domain).hex()


def sign(message: M, account: LocalAccount, domain: SigningDomain) -> SignedMessage[M]:
    """Sign ``message`` as ``account``, which must be the address in its ``SIGNER_FIELD``."""
    if message.claimed_signer != account.address:
        raise InputError(
            f"{message.EIP712_TYPE}.{message.SIGNER_FIELD} is {message.claimed_signer} but the signing "
            f"account is {account.address}; set {message.SIGNER_FIELD} to the signing account's address"
        )
    signature = sign_digest(_digest(message, domain), account)
    return SignedMessage(message=message, signature=signature, signer=account.address)


@lru_cache(maxsize=64)
def _private_key(secret: bytes) -> coincurve.PrivateKey:
    return coincurve.PrivateKey(secret)


def sign_digest(digest: bytes, account: LocalAccount) -> str:
    """A canonical (low s, v of 27/28) secp256k1 signature of a 32-byte digest, as 0x hex.

    libsecp256k1 through coincurve: about 8x faster than eth_account, same bytes."""
    raw = _private_key(bytes(account.key)).sign_recoverable(digest, hasher=None)
    return "0x" + raw[:64].hex() + ("1b" if raw[64] == 0 else "1c")


def personal_digest(digest_hex: str) -> bytes:
    """The EIP-191 ("\\x19Ethereum Signed Message:\\n32") digest of a 32-byte hash, as wallets sign it."""
    return keccak256(b"\x19Ethereum Signed Message:\n32" + bytes.fromhex(_bytes32(digest_hex)[2:]))


def _signature_bytes(signature: str) -> bytes:
    # Only canonical signatures (low s, v of 27/28) are accepted, as OpenZeppelin's ECDSA does,
    # so each message has one valid signature and the same bytes verify on chain.
    if not isinstance(signature, str) or not _SIGNATURE_RE.fullmatch(signature):
        raise SignatureError(
            f"malformed signature ({len(signature) if isinstance(signature, str) else type(signature).__name__}):"
            " expected 0x followed by 130 hex digits"
        )
    raw = bytes.fromhex(signature[2:])
    if raw[64] not in (27, 28):
        raise SignatureError(f"malformed signature: v is {raw[64]}, expected 27 or 28")
    if int.from_bytes(raw[32:64], "big") > _SECP256K1_N // 2:
        raise SignatureError("malformed signature: s is in the upper half of the curve order; sign again")
    return raw


def recover_digest(digest: bytes, signature: str) -> str:
    """The checksummed address whose key made ``signature`` over ``digest``."""
    raw = _signature_bytes(signature)
    try:
        public = coincurve.PublicKey.from_signature_and_message(raw[:64] + bytes([raw[64] - 27]), digest, hasher=None)
    except Exception:  # coincurve raises plain Exception for unrecoverable signatures
        raise SignatureError("malformed signature: no public key can be recovered from it") from None
    return _checksum_str("0x" + keccak256(public.format(compressed=False)[1:])[-20:].hex())


def _recover(signed: SignedMessage[Any], domain: SigningDomain) -> str:
    return recover_digest(_digest(signed.message, domain), signed.signature)


def verify(signed: SignedMessage[Any], domain: SigningDomain, expected_signer: str | None = None) -> str:
    """Recover the signer of ``signed`` and return it if every check passes.

    Raises :class:`SignatureError` when the signature is malformed or was made by an
    address other than ``signed.signer``, ``expected_signer`` or the message's own
    signer field.
    """
    message = signed.message
    recovered = _recover(signed, domain)
    if recovered != signed.signer:
        raise SignatureError(
            f"{message.EIP712_TYPE} signature was made by {recovered}, not the claimed signer "
            f"{signed.signer}; the message, domain or signature was altered"
        )
    if expected_signer is not None and recovered != _checksum_address(expected_signer):
        raise SignatureError(
            f"{message.EIP712_TYPE} is signed by {recovered}, expected {to_checksum_address(expected_signer)}"
        )
    if message.claimed_signer != recovered:
        raise SignatureError(
            f"{message.EIP712_TYPE}.{message.SIGNER_FIELD} is {message.claimed_signer} but the message "
            f"was signed by {recovered}"
        )
    return recovered
