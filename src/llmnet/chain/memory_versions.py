"""The expert versions part of :class:`llmnet.chain.memory_ledger.MemoryLedger`: provenance recorded by
an owner provider, with ProviderRegistry.vy's rules and revert strings."""

from __future__ import annotations

from llmnet.chain.ledger import Account
from llmnet.chain.memory_state import ProviderRecord, address_of, refuse, require
from llmnet.chain.provenance import MAX_VERSIONS, VersionProvenance
from llmnet.types import ZERO_HASH, TxReceipt


class MemoryVersions:
    """Mixed into MemoryLedger, which provides the clock, the writes and the providers."""

    _providers: dict[str, ProviderRecord]
    _provenances: dict[str, VersionProvenance]
    _owner_versions: dict[str, list[str]]
    _named_owners: dict[str, str]

    def _block_time(self) -> int:
        raise NotImplementedError

    def _write(self, value: int | None = None) -> TxReceipt:
        raise NotImplementedError

    def name_owner(self, owner: str, sender: Account) -> TxReceipt:
        named, who = address_of(owner, "owner"), address_of(sender.address, "sender")
        context = f"{who} naming {named} its owner"
        require(who in self._providers, "provider not registered", context)
        require(who not in self._provenances, "version already exists", context)
        self._named_owners[who] = named
        return self._write()

    def record_version(self, provenance: VersionProvenance, sender: Account) -> TxReceipt:
        provenance.require_owner(sender.address)
        owner, version = provenance.owner, provenance.version
        context = f"recording {version} as a version of {owner}"
        require(owner in self._providers, "provider not registered", context)
        require(version in self._providers, "version not registered as a provider", context)
        require(version != owner, "a provider cannot be a version of itself", context)
        named = self._named_owners.get(version) == owner
        require(named, "only the owner the version named may record it", context)
        require(version not in self._provenances, "version already exists", context)
        require(provenance.manifest_hash != ZERO_HASH, "manifest hash is empty", context)
        require(provenance.from_block <= provenance.to_block, "block range is reversed", context)
        together = (not provenance.has_rankings) == (provenance.to_block == 0)
        require(together, "rankings contract and block range go together", context)
        versions = self._owner_versions.setdefault(owner, [])
        require(len(versions) < MAX_VERSIONS, "too many versions for one owner", context)
        self._provenances[version] = provenance.model_copy(update={"recorded_at": self._block_time()})
        versions.append(version)
        return self._write()

    def provenance(self, version: str) -> VersionProvenance:
        who = address_of(version, "version")
        found = self._provenances.get(who)
        if found is None:
            refuse("no provenance recorded for this version", f"version {who}")
        assert found is not None
        return found

    def versions_of(self, owner: str) -> list[str]:
        return list(self._owner_versions.get(address_of(owner, "owner"), []))
