"""Python values as the contracts' ABI takes and returns them, checked with messages that name the value."""

from __future__ import annotations

from llmnet.errors import InputError
from llmnet.types import check_hash


def bytes32_arg(value: str, what: str) -> bytes:
    """A 0x-hex bytes32 value as the 32 bytes a contract takes."""
    return bytes.fromhex(check_hash(value, what)[2:])


def hex_of(value: bytes) -> str:
    """Bytes a contract returned, as 0x hex."""
    return "0x" + bytes(value).hex()


def wei_arg(value: int, what: str) -> int:
    if not isinstance(value, int) or value < 0:
        raise InputError(f"{what} must be a non-negative integer amount in wei, got {value!r}")
    return value
