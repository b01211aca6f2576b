"""A respondent serving a trained expert version serves its manifest at ``/v1/expert``: the URL its
provenance on chain names, whose sha256 the chain records; a model no run made has none."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from llmnet.backends.fake import FakeBackend
from llmnet.chain.network import dev_account
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.roles.common import AccountSpec, ChainSpec
from llmnet.roles.respondent import RespondentSpec, create_respondent_app
from llmnet.tuning.manifest import ExpertManifest
from tests.expert_runs import write_run

pytestmark = pytest.mark.integration


class TrainedFake(FakeBackend):
    """A scripted model standing for one whose weights are a run's adapter."""

    def __init__(self, adapter: Path, sha256: str) -> None:
        super().__init__(model_id="law-expert")
        self.weights_sha256, self.adapter = sha256, adapter

    def weight_files(self) -> dict[str, Path]:
        return {self.weights_sha256: self.adapter}


def spec(ledger: Web3Ledger, tmp_path: Path) -> RespondentSpec:
    chain = ChainSpec(rpc_url="http://127.0.0.1:1", deployment=ledger.deployment.escrow)
    return RespondentSpec(name="law-v2", port=8411, account=AccountSpec(dev_index=5), chain=chain,
                          data_dir=tmp_path / "data", domains=["law"])  # fmt: skip


def test_a_respondent_serves_the_manifest_of_the_version_it_runs(ledger: Web3Ledger, tmp_path: Path) -> None:
    manifest = write_run(tmp_path / "run")
    backend = TrainedFake(tmp_path / "run" / "adapter.gguf", manifest.artifact.sha256)
    app = create_respondent_app(spec(ledger, tmp_path), backend=backend, ledger=ledger, account=dev_account(5))
    with TestClient(app.app) as client:
        served = client.get("/v1/expert")
    assert served.status_code == 200
    assert ExpertManifest.model_validate_json(served.content).digest() == manifest.digest()
    assert ledger.get_provider(dev_account(5).address).profile.weights_hash == "0x" + manifest.artifact.sha256


def test_a_model_no_run_made_serves_no_manifest(ledger: Web3Ledger, tmp_path: Path) -> None:
    manifest = write_run(tmp_path / "run")
    other = TrainedFake(tmp_path / "run" / "adapter.gguf", "ee" * 32)  # weights the manifest does not name
    for backend in (FakeBackend(), other):
        app = create_respondent_app(spec(ledger, tmp_path), backend=backend, ledger=ledger, account=dev_account(5))
        with TestClient(app.app) as client:
            missing = client.get("/v1/expert")
        assert missing.status_code == 404 and "serves no trained expert version" in missing.text
    assert manifest.artifact.sha256 != "ee" * 32
