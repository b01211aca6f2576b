"""Deploy llmnet's contracts and remember where they are, per chain id; or find a whole deployment
from its escrow's address (:func:`resolve_deployment`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from web3 import Web3

from llmnet.chain.artifacts import load_artifact
from llmnet.chain.ledger import Account
from llmnet.chain.transactions import TxSender, read
from llmnet.errors import NotDeployed
from llmnet.reputation.beta import decay_from_float
from llmnet.types import ETHER, check_domain_name, checksum


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
        url = _endpoint(w3)
        hint = (f"deploy them with `llmnet chain deploy --rpc-url {url}`, or record a deployment someone else "
                f"made with `llmnet chain attach --rpc-url {url} --deployment ADDRESS`")  # fmt: skip
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


def _contract(w3: Web3, name: str, address: str) -> Any:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name)["abi"])


def deploy_contracts(w3: Web3, governance: Account, params: DeployParams = DeployParams()) -> Deployment:
    """Deploy the registry, the escrow (which keeps reputation), the validator book and the human
    rankings; wire them to the escrow, which names them all; add domains."""
    for name in params.domains:
        check_domain_name(name)
    sender = TxSender(w3)
    registry = _deploy_one(w3, sender, "ProviderRegistry", governance, params.min_stake, params.cooldown)
    escrow = _deploy_one(w3, sender, "TaskEscrow", governance, registry, decay_from_float(params.decay))
    reg = _contract(w3, "ProviderRegistry", registry)
    sender.send(reg.functions.set_settlement(escrow), governance)
    validator_book = _deploy_one(w3, sender, "ValidatorBook", governance, params.validator_min_stake, params.cooldown,
                                 params.epoch_length, params.initial_trust_ppm)  # fmt: skip
    sender.send(_contract(w3, "ValidatorBook", validator_book).functions.set_escrow(escrow), governance)
    esc = _contract(w3, "TaskEscrow", escrow)
    sender.send(esc.functions.set_validator_book(validator_book, params.spot_quorum), governance)
    for name in params.domains:
        sender.send(reg.functions.add_domain(name), governance)
    rankings = _deploy_one(w3, sender, "Rankings", governance)
    sender.send(esc.functions.set_rankings(rankings), governance)
    return resolve_deployment(w3, escrow)


def resolve_deployment(w3: Web3, escrow: str) -> Deployment:
    """The whole deployment named by its escrow's address: the registry, validator book, rankings,
    governance and deployment block are read from the escrow, and checked on chain: there is
    code at every address, and the registry and the validator book point back at this escrow
    (as :func:`deploy_contracts` wires them). Raises InputError for a malformed address and
    NotDeployed, naming the address and what is wrong, for anything else.

    >>> resolve_deployment(w3, "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512").registry  # doctest: +SKIP
    '0x5FbDB2315678afecb367f032d93F642f64180aa3'
    """
    escrow = checksum(escrow, "deployment (the escrow's address)")
    chain_id = w3.eth.chain_id
    _require_code(w3, escrow, "escrow", chain_id)
    esc = _contract(w3, "TaskEscrow", escrow)
    names = ("registry", "validator_book", "rankings", "governance", "deployment_block")
    read = {name: _read_escrow(esc, name, chain_id) for name in names}
    for what in ("registry", "validator_book", "rankings"):
        if int(read[what], 16) == 0:
            raise NotDeployed(f"the escrow at {escrow} on chain {chain_id} names no {what.replace('_', ' ')}; "
                              f"governance sets it with set_{what}")  # fmt: skip
        _require_code(w3, read[what], what.replace("_", " "), chain_id)
    _require_wired(_contract(w3, "ProviderRegistry", read["registry"]), "settlement", "registry", escrow)
    _require_wired(_contract(w3, "ValidatorBook", read["validator_book"]), "escrow", "validator book", escrow)
    block = int(read["deployment_block"])
    return Deployment(
        chain_id=chain_id, genesis_hash=genesis_hash(w3), registry=read["registry"], escrow=escrow,
        validator_book=read["validator_book"], rankings=read["rankings"], governance=read["governance"],
        block_number=block, deployed_at=float(w3.eth.get_block(block)["timestamp"]),
    )  # fmt: skip


def _require_code(w3: Web3, address: str, what: str, chain_id: int) -> None:
    if not w3.eth.get_code(Web3.to_checksum_address(address)):
        raise NotDeployed(f"there is no contract at {address} on chain {chain_id} (the {what}); check the "
                          "deployment address and that the RPC URL is the chain it was deployed on")  # fmt: skip


def _read_escrow(esc: Any, name: str, chain_id: int) -> Any:
    try:
        return read(getattr(esc.functions, name)())
    except Exception:  # no such view: another contract, or an escrow of an earlier version
        raise NotDeployed(
            f"the contract at {esc.address} on chain {chain_id} is not an llmnet escrow of this version (it has "
            f"no {name}); give the TaskEscrow address that `llmnet chain deploy` printed"
        ) from None


def _require_wired(contract: Any, view: str, what: str, escrow: str) -> None:
    try:
        points_at = str(read(getattr(contract.functions, view)()))
    except Exception:
        points_at = "nothing"
    if points_at.lower() != escrow.lower():
        raise NotDeployed(f"the {what} at {contract.address} points at escrow {points_at}, not at {escrow}: "
                          "these contracts are not one llmnet deployment")  # fmt: skip
