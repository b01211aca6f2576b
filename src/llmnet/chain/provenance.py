"""What the provider registry records about an expert version: who owns it and what it was made from.

A trained version is its own provider (its own key, stake, endpoint and reputation). Its owner, the
provider it was trained for, records it with :meth:`llmnet.chain.ledger.Ledger.record_version`,
and anybody reads it back with ``provenance(version)`` and ``versions_of(owner)``.

    VersionProvenance(version="0x…", owner="0x…", model_version="v2", manifest_hash="0x…",
                      base_hash="0x…", method="lora", dataset_hash="0x…")
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from llmnet.errors import InputError
from llmnet.types import ZERO_HASH, check_hash, checksum

ZERO_ADDRESS = "0x" + "00" * 20
# the registry's String[n] limits, in UTF-8 bytes
MODEL_VERSION_BYTES, METHOD_BYTES, MANIFEST_URL_BYTES = 64, 16, 256
MAX_VERSIONS = 64  # versions one owner can record (the registry's MAX_VERSIONS)


def _address(value: str) -> str:
    return checksum(value, "address")


def _hash(value: str) -> str:
    return check_hash(value, "hash")


Address = Annotated[str, AfterValidator(_address)]
Hash = Annotated[str, AfterValidator(_hash)]


def _fits(text: str, limit: int, what: str) -> None:
    if len(text.encode()) > limit:
        raise InputError(f"{what} {text[:40]!r}… is {len(text.encode())} bytes in UTF-8; the registry keeps {limit}")


class VersionProvenance(BaseModel):
    """One recorded version. ``recorded_at`` is the chain's timestamp (0 before it is recorded)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Address
    owner: Address
    model_version: str
    manifest_hash: Hash
    base_hash: Hash = ZERO_HASH
    method: str = ""
    dataset_hash: Hash = ZERO_HASH
    rankings: Address = ZERO_ADDRESS
    from_block: int = Field(default=0, ge=0)
    to_block: int = Field(default=0, ge=0)
    manifest_url: str = ""
    recorded_at: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _within_limits(self) -> VersionProvenance:
        _fits(self.model_version, MODEL_VERSION_BYTES, "model version")
        _fits(self.method, METHOD_BYTES, "method")
        _fits(self.manifest_url, MANIFEST_URL_BYTES, "manifest URL")
        return self

    @property
    def has_rankings(self) -> bool:
        return int(self.rankings, 16) != 0

    def require_owner(self, sender: str) -> None:
        """The owner records its versions itself: refuse a provenance naming another owner."""
        if checksum(sender, "sender") != self.owner:
            raise InputError(f"the provenance names owner {self.owner}, but {sender} would record it; "
                             "sign with the owner's key")  # fmt: skip

    def chain_args(self) -> tuple[object, ...]:
        """The arguments of ``ProviderRegistry.record_version``."""
        b32 = bytes.fromhex
        return (self.version, self.model_version, b32(self.manifest_hash[2:]), b32(self.base_hash[2:]), self.method,
                b32(self.dataset_hash[2:]), self.rankings, self.from_block, self.to_block,
                self.manifest_url)  # fmt: skip
