"""Per-deployment state: a redeployed fresh chain must never share a task book or outbox with the old one."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from llmnet.chain.deploy import Deployment, DeploymentBook
from llmnet.errors import NotDeployed
from llmnet.roles.common import deployment_dir

OLD = Deployment(
    chain_id=1337, genesis_hash="0x" + "aa" * 32, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    escrow="0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", validator_book="0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    governance="0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", rankings="0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
    block_number=7, deployed_at=1.0,
)  # fmt: skip


def directory(d: Deployment) -> Path:
    return deployment_dir(Path("/state"), SimpleNamespace(deployment=d))  # type: ignore[arg-type]


def test_same_addresses_on_a_fresh_chain_get_their_own_state() -> None:
    fresh = replace(OLD, genesis_hash="0x" + "bb" * 32, deployed_at=2.0)  # same deployer, same nonces
    assert directory(fresh) != directory(OLD)


def test_the_same_deployment_keeps_its_state_across_restarts() -> None:
    assert directory(replace(OLD)) == directory(OLD)
    assert directory(OLD).parent == Path("/state")


def test_a_deployment_recorded_by_an_older_version_asks_for_a_redeploy(tmp_path: Path) -> None:
    entry = {k: v for k, v in OLD.__dict__.items() if k != "validator_book"}
    (tmp_path / "deployments.json").write_text(json.dumps({"1337": entry}))
    w3 = SimpleNamespace(eth=SimpleNamespace(chain_id=1337), provider=SimpleNamespace(endpoint_uri="http://x"))
    with pytest.raises(NotDeployed, match=r"predates this version of llmnet .*validator_book.*llmnet chain deploy"):
        DeploymentBook(tmp_path / "deployments.json").find(w3)  # type: ignore[arg-type]
