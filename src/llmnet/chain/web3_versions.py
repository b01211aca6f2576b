"""Expert versions on a real EVM: provenance recorded in the provider registry by an owner provider.
Mixed into :class:`llmnet.chain.web3_ledger.Web3Ledger`, which provides the contracts and the writes."""

from __future__ import annotations

from typing import Any

from llmnet.chain.abi_values import hex_of
from llmnet.chain.calls import ChainCall
from llmnet.chain.ledger import Account
from llmnet.chain.provenance import VersionProvenance
from llmnet.chain.transactions import MinedTx
from llmnet.errors import ContractRevert, NotDeployed, UnknownProvider
from llmnet.types import TxReceipt, checksum

REGISTRY = "ProviderRegistry"
_FIELDS = ("owner", "model_version", "manifest_hash", "base_hash", "method", "dataset_hash", "rankings",
           "from_block", "to_block", "manifest_url", "recorded_at")  # fmt: skip


class Web3Versions:
    """``name_owner``, ``record_version``, ``provenance`` and ``versions_of`` through ``registry``."""

    registry: Any
    deployment: Any

    def execute(self, call: ChainCall, sender: Account) -> MinedTx:
        raise NotImplementedError

    def _call(self, fn: Any, context: str = "") -> Any:
        raise NotImplementedError

    def name_owner(self, owner: str, sender: Account) -> TxReceipt:
        owner = checksum(owner, "owner")
        call = ChainCall(REGISTRY, "name_owner", (owner,), context=f"{sender.address} naming {owner} its owner")
        mined = self.execute(call, sender)
        return TxReceipt(mined.tx_hash, mined.block_number, mined.gas_used, None)

    def record_version(self, provenance: VersionProvenance, sender: Account) -> TxReceipt:
        provenance.require_owner(sender.address)
        context = f"recording {provenance.version} as a version of {provenance.owner}"
        mined = self.execute(ChainCall(REGISTRY, "record_version", provenance.chain_args(), context=context), sender)
        return TxReceipt(mined.tx_hash, mined.block_number, mined.gas_used, None)

    def provenance(self, version: str) -> VersionProvenance:
        version = checksum(version, "version")
        raw = self._versions_call(self.registry.functions.provenance(version), f"version {version}")
        values = {name: hex_of(v) if isinstance(v, bytes) else v for name, v in zip(_FIELDS, raw, strict=True)}
        return VersionProvenance.model_validate({"version": version, **values})

    def versions_of(self, owner: str) -> list[str]:
        fn = self.registry.functions.versions_of(checksum(owner, "owner"))
        return [str(a) for a in self._versions_call(fn, f"versions of {owner}")]

    def _versions_call(self, fn: Any, context: str) -> Any:
        try:
            return self._call(fn, context)
        except UnknownProvider:
            raise
        except ContractRevert:  # these views refuse nothing else: the registry has no such function
            raise NotDeployed(
                f"the registry at {self.deployment.registry} predates expert versions; deploy this version's "
                "contracts on a fresh chain (`llmnet up` does so by itself)"
            ) from None
