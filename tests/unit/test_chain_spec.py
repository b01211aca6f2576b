"""A chain spec names its deployment once: by the escrow's address or by a deployments file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from llmnet.roles.common import ChainSpec

URL = "http://127.0.0.1:8545"
ESCROW = "0x" + "ab" * 20


def test_a_deployment_address_alone_is_enough() -> None:
    spec = ChainSpec(rpc_url=URL, deployment=ESCROW)
    assert spec.deployment == ESCROW and spec.deployments_file is None


def test_a_deployments_file_alone_is_enough(tmp_path: Path) -> None:
    assert ChainSpec(rpc_url=URL, deployments_file=tmp_path / "d.json").deployment is None


@pytest.mark.parametrize("given", ["both", "neither"])
def test_both_or_neither_is_refused_with_what_to_set(tmp_path: Path, given: str) -> None:
    extra = {"deployment": ESCROW, "deployments_file": tmp_path / "d.json"} if given == "both" else {}
    with pytest.raises(ValidationError, match=f"exactly one of deployment .* and {given} was given"):
        ChainSpec(rpc_url=URL, **extra)  # type: ignore[arg-type]


def test_a_spec_travels_as_json_between_processes() -> None:
    spec = ChainSpec(rpc_url=URL, deployment=ESCROW)
    assert ChainSpec.model_validate_json(spec.model_dump_json()) == spec
