"""The checked-in contract artifacts must match their Vyper sources."""

from __future__ import annotations

import pytest

from llmnet.chain.artifacts import CONTRACT_NAMES, SOURCE_DIR, compile_contract, load_artifact


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_artifact_is_fresh(name: str) -> None:
    fresh = compile_contract(SOURCE_DIR / f"{name}.vy")
    stored = load_artifact(name)
    assert stored["source_sha256"] == fresh["source_sha256"], (
        f"{name}.json is stale against contracts/{name}.vy: run `python scripts/compile_contracts.py`"
    )
    assert stored["bytecode"] == fresh["bytecode"]
    assert stored["abi"] == fresh["abi"]


def test_every_source_has_an_artifact() -> None:
    sources = sorted(p.stem for p in SOURCE_DIR.glob("*.vy"))
    assert sources == sorted(CONTRACT_NAMES)
