"""Per-deployment state: a redeployed fresh chain must never share a task book or outbox with the old one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from llmnet.chain.deploy import Deployment
from llmnet.roles.common import deployment_dir

OLD = Deployment(
    chain_id=1337, genesis_hash="0x" + "aa" * 32, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    escrow="0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", governance="0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
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
