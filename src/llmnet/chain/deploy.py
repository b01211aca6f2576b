"""Deploy llmnet's contracts and remember where they are, per chain id."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from web3 import Web3

from llmnet.chain.artifacts import load_artifact
from llmnet.chain.ledger import Account
from llmnet.chain.transactions import TxSender
from llmnet.errors import NotDeployed
from llmnet.reputation.beta import decay_from_float
from llmnet.types import ETHER, check_domain_name


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    genesis_hash: str
    registry: str
    escrow: str
    validator_book: str
    rankings: str
    governance: str
    block_number: int
    deployed_at: float


@dataclass(frozen=True)
class DeployParams:
    min_stake: int = ETHER // 10
    cooldown: int = 24 * 3600
    decay: float = 0.98
    domains: tuple[str, ...] = ("general",)
    validator_min_stake: int = ETHER // 10
    epoch_length: int = 5  # seconds per rating epoch: commit during the next, reveal during the one after
    initial_trust_ppm: int = 500_000
    spot_quorum: int = 2  # registered validators who must attest a re-run mismatch to convict a respondent


def genesis_hash(w3: Web3) -> str:
    return w3.eth.get_block(0)["hash"].to_0x_hex()


class DeploymentBook:
    """``deployments.json`` under the data directory: chain id -> contract addresses."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.path.read_text())
        return data

    def record(self, deployment: Deployment) -> None:
        data = self._read()
        data[str(deployment.chain_id)] = asdict(deployment)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(self.path)

    def find(self, w3: Web3) -> Deployment:
        """The deployment recorded for the chain ``w3`` talks to, checked against it."""
        chain_id = w3.eth.chain_id
        entry = self._read().get(str(chain_id))
        hint = f"deploy them with `llmnet chain deploy --rpc-url {_endpoint(w3)}`"
        if entry is None:
            raise NotDeployed(f"no llmnet contracts recorded for chain {chain_id} in {self.path}; {hint}")
        missing = {f.name for f in fields(Deployment)} - set(entry)
        if missing:
            raise NotDeployed(
                f"the deployment recorded for chain {chain_id} predates this version of llmnet (it has no "
                f"{', '.join(sorted(missing))}); {hint}"
            )
        deployment = Deployment(**entry)
        if deployment.genesis_hash != genesis_hash(w3) or not w3.eth.get_code(
            Web3.to_checksum_address(deployment.escrow)
        ):
            raise NotDeployed(f"the contracts recorded for chain {chain_id} are not on this node; {hint}")
        return deployment


def _endpoint(w3: Web3) -> str:
    return str(getattr(w3.provider, "endpoint_uri", None) or "URL")


def _deploy_one(w3: Web3, sender: TxSender, name: str, account: Account, *args: object) -> str:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = sender.send(factory.constructor(*args), account, context=f"deploying {name}")
    address = receipt.contract_address
    assert address is not None
    return address


def deploy_contracts(w3: Web3, governance: Account, params: DeployParams = DeployParams()) -> Deployment:
    """Deploy the registry, the escrow (which keeps reputation), the validator book and the human
    rankings; wire them; add domains."""
    for name in params.domains:
        check_domain_name(name)
    sender = TxSender(w3)
    registry = _deploy_one(w3, sender, "ProviderRegistry", governance, params.min_stake, params.cooldown)
    escrow = _deploy_one(w3, sender, "TaskEscrow", governance, registry, decay_from_float(params.decay))
    reg = w3.eth.contract(address=Web3.to_checksum_address(registry), abi=load_artifact("ProviderRegistry")["abi"])
    sender.send(reg.functions.set_settlement(escrow), governance)
    validator_book = _deploy_one(w3, sender, "ValidatorBook", governance, params.validator_min_stake, params.cooldown,
                                 params.epoch_length, params.initial_trust_ppm)  # fmt: skip
    book = w3.eth.contract(address=Web3.to_checksum_address(validator_book), abi=load_artifact("ValidatorBook")["abi"])
    sender.send(book.functions.set_escrow(escrow), governance)
    esc = w3.eth.contract(address=Web3.to_checksum_address(escrow), abi=load_artifact("TaskEscrow")["abi"])
    sender.send(esc.functions.set_validator_book(validator_book, params.spot_quorum), governance)
    for name in params.domains:
        sender.send(reg.functions.add_domain(name), governance)
    rankings = _deploy_one(w3, sender, "Rankings", governance)
    return Deployment(
        chain_id=w3.eth.chain_id,
        genesis_hash=genesis_hash(w3),
        registry=registry,
        escrow=escrow,
        validator_book=validator_book,
        rankings=rankings,
        governance=governance.address,
        block_number=w3.eth.block_number,
        deployed_at=time.time(),
    )
