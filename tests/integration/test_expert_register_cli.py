"""``llmnet expert register``, ``show`` and ``versions`` on a real chain (anvil): a trained run becomes
v2 of its owner's model, each with its own reputation, and a run whose data forbids it is refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner
from web3 import Web3

from llmnet.chain.deploy import Deployment, DeploymentBook
from llmnet.chain.network import dev_account
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.cli.main import full_app
from llmnet.config import load_settings
from llmnet.errors import NotDeployed
from llmnet.tuning.licences import LicenceError
from llmnet.types import ProviderProfile
from tests.expert_runs import BASE_SHA, rankings_source, write_run

pytestmark = pytest.mark.integration

Cli = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, w3: Web3, deployment: Deployment) -> Cli:
    data_dir = tmp_path / "data"
    DeploymentBook(load_settings(data_dir=data_dir).deployments_file).record(deployment)
    env = {"LLMNET_DATA_DIR": str(data_dir), "LLMNET_RPC_URL": str(w3.provider.endpoint_uri),  # type: ignore[attr-defined]
           "COLUMNS": "250", "LLMNET_PRIVATE_KEY": None, "LLMNET_KEYSTORE": None}  # fmt: skip

    def run(*args: str) -> Result:
        return CliRunner().invoke(full_app(), list(args), env=env)

    return run


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_a_trained_run_is_registered_as_v2_beside_its_owner(ledger: Web3Ledger, cli: Cli, tmp_path: Path) -> None:
    v1, v2 = dev_account(1), dev_account(5)
    ledger.register_provider(ProviderProfile("http://127.0.0.1:8401", ("law",), "smollm2", model_version="v1"),
                             ledger.min_stake, v1)  # fmt: skip
    manifest = write_run(tmp_path / "run", rankings=rankings_source(ledger.chain_id, ledger.deployment.rankings))
    done = ok(cli("expert", "register", str(tmp_path / "run"), "--endpoint", "http://127.0.0.1:8411",
                  "--dev", "5", "--owner-dev", "1"))  # fmt: skip
    assert f"registered {v2.address} as a provider of law" in done and "(tx 0x" in done
    assert f"{v2.address} named {v1.address} its owner (tx 0x" in done
    assert f"recorded v2 of {v1.address}: manifest 0x{manifest.digest()}" in done
    entry = ledger.get_provider(v2.address).profile
    assert (entry.weights_hash, entry.model_version) == ("0x" + manifest.artifact.sha256, "v2")
    p = ledger.provenance(v2.address)
    assert (p.owner, p.base_hash, p.rankings, p.from_block, p.to_block) == (
        v1.address, "0x" + BASE_SHA, ledger.deployment.rankings, 3, 40)  # fmt: skip
    shown = ok(cli("expert", "show", v2.address))
    assert f"v2 of {v1.address}: lora, manifest 0x{manifest.digest()} (http://127.0.0.1:8411/v1/expert)" in shown
    assert "law: 0.50 (0)" in shown  # a newcomer: its own reputation, none of v1's
    listed = ok(cli("expert", "versions", v1.address))
    assert f"v2: {v2.address} (lora" in listed
    assert "an original model" in ok(cli("expert", "show", v1.address))


def test_a_run_whose_data_forbids_derivatives_is_refused_before_any_write(
    ledger: Web3Ledger, cli: Cli, tmp_path: Path
) -> None:
    ledger.register_provider(ProviderProfile("http://127.0.0.1:8401", ("law",), "smollm2"), ledger.min_stake,
                             dev_account(1))  # fmt: skip
    write_run(tmp_path / "run", knowledge_licence="CC-BY-NC-ND-4.0")
    result = cli("expert", "register", str(tmp_path / "run"), "--endpoint", "http://127.0.0.1:8411", "--dev", "5",
                 "--owner-dev", "1")  # fmt: skip
    assert type(result.exception) is LicenceError
    assert "'CC-BY-NC-ND-4.0', which forbids derivative models" in str(result.exception)
    assert not ledger.is_registered(dev_account(5).address)


def test_a_registry_that_predates_expert_versions_says_so(ledger: Web3Ledger, w3: Web3) -> None:
    old = Web3Ledger(w3, replace(ledger.deployment, registry=ledger.deployment.rankings))  # no such views
    with pytest.raises(NotDeployed, match="predates expert versions; deploy this version's contracts"):
        old.versions_of(dev_account(1).address)
    with pytest.raises(NotDeployed, match="predates expert versions"):
        old.provenance(dev_account(1).address)
