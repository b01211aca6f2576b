"""Registering a trained expert as a version of its owner's model, on the in-memory ledger: the checks
before anything is written (licences, the artifact's hash, whose keys), then the provider entry and the
provenance the chain keeps, and the lineage read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from llmnet.chain.memory_ledger import MemoryLedger
from llmnet.chain.network import dev_account
from llmnet.errors import ConfigError, InputError
from llmnet.tuning.licences import LicenceError
from llmnet.tuning.registration import (
    VersionPlan,
    checked_run,
    lineage,
    next_model_version,
    plan_version,
    register_version,
)
from llmnet.types import ETHER, ProviderProfile
from tests.expert_runs import BASE_SHA, rankings_source, write_run

RANKINGS = "0x" + "12" * 20


@pytest.fixture
def ledger() -> MemoryLedger:
    led = MemoryLedger(domains=("general", "law"))
    for i in range(1, 6):
        led.fund(dev_account(i).address, 10 * ETHER)
    return led


@pytest.fixture
def owner(ledger: MemoryLedger) -> LocalAccount:
    v1 = dev_account(1)
    ledger.register_provider(ProviderProfile("http://127.0.0.1:8401", ("law",), "smollm2", model_version="v1"),
                             ledger.min_stake, v1)  # fmt: skip
    return v1


def register(ledger: MemoryLedger, run: Path, owner: LocalAccount, version: LocalAccount, port: int = 8411) -> None:
    manifest = checked_run(run)
    plan = plan_version(manifest, owner=owner.address, version=version.address, endpoint=f"http://127.0.0.1:{port}",
                        model_version=next_model_version(ledger, owner.address), chain_id=ledger.chain_id)  # fmt: skip
    register_version(ledger, plan, owner=owner, version=version, stake=ledger.min_stake)


def test_a_version_is_its_own_provider_with_the_provenance_its_owner_recorded(
    ledger: MemoryLedger, owner: LocalAccount, tmp_path: Path
) -> None:
    manifest = write_run(tmp_path / "run", rankings=rankings_source(ledger.chain_id, RANKINGS))
    v2 = dev_account(2)
    register(ledger, tmp_path / "run", owner, v2)
    entry = ledger.get_provider(v2.address).profile
    assert (entry.weights_hash, entry.model_version, entry.model_id, entry.licence, entry.domains) == (
        "0x" + manifest.artifact.sha256, "v2", "law-expert", "Apache-2.0", ("law",))  # fmt: skip
    p = ledger.provenance(v2.address)
    assert (p.owner, p.model_version, p.method) == (owner.address, "v2", "lora")
    assert (p.manifest_hash, p.base_hash, p.dataset_hash) == (
        "0x" + manifest.digest(),
        "0x" + BASE_SHA,
        "0x" + "cd" * 32,
    )
    assert (p.rankings, p.from_block, p.to_block) == (RANKINGS, 3, 40)
    assert p.manifest_url == "http://127.0.0.1:8411/v1/expert"
    assert ledger.versions_of(owner.address) == [v2.address]


def test_versions_are_numbered_and_a_version_of_a_version_has_a_lineage(
    ledger: MemoryLedger, owner: LocalAccount, tmp_path: Path
) -> None:
    v2, v3, v2b = dev_account(2), dev_account(3), dev_account(4)
    write_run(tmp_path / "a")
    register(ledger, tmp_path / "a", owner, v2)
    write_run(tmp_path / "b", name="law-expert-b")
    register(ledger, tmp_path / "b", owner, v3, port=8412)
    write_run(tmp_path / "c", name="law-expert-c")
    register(ledger, tmp_path / "c", v2, v2b, port=8413)  # trained from v2, v2 its owner
    assert [ledger.provenance(v).model_version for v in ledger.versions_of(owner.address)] == ["v2", "v3"]
    assert [(p.version, p.owner) for p in lineage(ledger, v2b.address)] == [
        (v2b.address, v2.address), (v2.address, owner.address)]  # fmt: skip
    assert lineage(ledger, owner.address) == []


def test_an_artifact_changed_after_training_is_refused(ledger: MemoryLedger, tmp_path: Path) -> None:
    write_run(tmp_path / "run")
    (tmp_path / "run" / "adapter.gguf").write_bytes(b"other weights")
    with pytest.raises(ConfigError, match=r"adapter\.gguf has sha256 .* the artifact changed after training"):
        checked_run(tmp_path / "run")
    (tmp_path / "run" / "adapter.gguf").unlink()
    with pytest.raises(ConfigError, match="does not exist"):
        checked_run(tmp_path / "run")


def test_data_whose_licence_forbids_derivatives_is_refused(tmp_path: Path) -> None:
    write_run(tmp_path / "nd", knowledge_licence="CC-BY-ND-4.0")
    with pytest.raises(LicenceError, match=r"knowledge folder law is under 'CC-BY-ND-4.0', which forbids derivative"):
        checked_run(tmp_path / "nd")
    write_run(tmp_path / "nc", knowledge_licence="CC-BY-NC-4.0")  # allowed, but the expert inherits it
    with pytest.raises(LicenceError, match=r"under 'Apache-2\.0', but its base model and data make it 'CC-BY-NC-4.0'"):
        checked_run(tmp_path / "nc")
    write_run(tmp_path / "nc2", knowledge_licence="CC-BY-NC-4.0", licence="CC-BY-NC-4.0")
    assert checked_run(tmp_path / "nc2").licence == "CC-BY-NC-4.0"


def test_registration_refuses_one_key_for_both_an_unregistered_owner_and_another_chain(
    ledger: MemoryLedger, owner: LocalAccount, tmp_path: Path
) -> None:
    manifest = write_run(tmp_path / "run", rankings=rankings_source(1, RANKINGS))
    with pytest.raises(InputError, match="rankings on chain 1, but this is chain"):
        plan_version(manifest, owner=owner.address, version=owner.address, endpoint="http://x", model_version="v2",
                     chain_id=ledger.chain_id)  # fmt: skip
    manifest = write_run(tmp_path / "run")
    v2, stranger = dev_account(2), dev_account(5)

    def plan(o: LocalAccount, v: LocalAccount) -> VersionPlan:
        return plan_version(manifest, owner=o.address, version=v.address, endpoint="http://127.0.0.1:8411",
                            model_version="v2", chain_id=ledger.chain_id)  # fmt: skip

    with pytest.raises(InputError, match="a version needs its own key"):
        register_version(ledger, plan(owner, owner), owner=owner, version=owner, stake=ledger.min_stake)
    with pytest.raises(InputError, match="is not a registered provider"):
        register_version(ledger, plan(stranger, v2), owner=stranger, version=v2, stake=ledger.min_stake)
    assert not ledger.is_registered(v2.address) and ledger.versions_of(owner.address) == []
