"""Spot checks of a trained expert in a running network: two respondents register the same GGUF LoRA
adapter (SmolLM2 + adapter); one runs it, the other quietly runs the bare base model. Validators fetch the
adapter by its hash from the respondents' own ``GET /v1/weights/{sha256}``, re-run both answers on it, and
convict the impostor on chain; the honest expert keeps its stake. An operator serves a training run's
folder from its config file: registered under the artifact's hash, its manifest served beside it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmnet.backends.weights import weights_sha256
from llmnet.launcher import Network, RespondentPlan
from llmnet.tuning.manifest import ExpertManifest
from tests.adapters import make_lora_adapter, make_lora_run
from tests.conftest import free_port
from tests.integration.networks import running_network
from tests.integration.test_serve_config import config_file, healthy, operator, start, stop

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_lora_adapter(tmp_path_factory.mktemp("expert") / "adapter.gguf")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, adapter: Path) -> Iterator[Network]:
    expert = {"model": "smollm2", "n_threads": 1, "lora": str(adapter)}
    respondents = (
        RespondentPlan("expert", ("general",), options=expert),
        RespondentPlan("impostor", ("general",), backend="impostor",
                       options={"serve": {"model": "smollm2", "n_threads": 1}, "claim": expert}),
    )  # fmt: skip
    with running_network(tmp_path_factory.mktemp("spot-lora"), respondents, timeout=240, judge="fake", k=2,
                         rounds=0, max_tokens=24, gold_rate=0.0, spot_check_rate=1.0) as network:  # fmt: skip
        yield network


def test_a_respondent_serves_the_weights_it_runs_by_hash_and_nothing_else(net: Network, adapter: Path) -> None:
    endpoint = f"http://127.0.0.1:{net.options.respondent_base_port}"
    digest = weights_sha256(adapter)
    got = httpx.get(f"{endpoint}/v1/weights/0x{digest}", timeout=60)
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == digest
    assert httpx.get(f"{endpoint}/v1/weights/{'ab' * 32}", timeout=10).status_code == 404
    assert httpx.get(f"{endpoint}/v1/weights/..%2F..%2Fetc%2Fpasswd", timeout=10).status_code == 404
    assert httpx.get(f"{endpoint}/v1/expert", timeout=10).status_code == 404  # no manifest: a bare adapter file


def test_validators_fetch_the_adapter_and_convict_the_impostor_running_the_base(net: Network, adapter: Path) -> None:
    assert net.ledger is not None
    by_address = {p.address: p for p in net.ledger.providers("general")}
    assert {p.profile.weights_hash for p in by_address.values()} == {"0x" + weights_sha256(adapter)}
    stakes = {a: p.stake for a, p in by_address.items()}
    body = {"model": "llmnet/general", "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "llmnet": {"collaboration": "fixed"}}  # fmt: skip
    resp = httpx.post(f"{net.base_url}/chat/completions", json=body, timeout=120,
                      headers={"Authorization": f"Bearer {net.api_key}"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        now = {a: net.ledger.get_provider(a).stake for a in by_address}
        if 0 in now.values():
            break
        time.sleep(1)
    convicted = [a for a, s in now.items() if s == 0]
    assert len(convicted) == 1, now
    assert by_address[convicted[0]].profile.endpoint.endswith(f":{net.options.respondent_base_port + 1}")
    honest = next(a for a in by_address if a != convicted[0])
    assert now[honest] == stakes[honest]
    deadline = time.monotonic() + 120  # each validator re-runs both answers in the background
    while time.monotonic() < deadline:
        health = [httpx.get(f"http://127.0.0.1:{net.options.validator_base_port + i}/health").json()
                  for i in range(2)]  # fmt: skip
        if all(h["spot_checks"]["checked"] >= 2 for h in health):
            break
        time.sleep(1)
    assert all(h["spot_checks"]["checked"] >= 2 for h in health), health
    assert all(h["spot_checks"]["mismatches"] == 1 for h in health), health  # the impostor's answer only


def test_an_operator_serves_a_training_run_from_its_config_file(net: Network, adapter: Path, tmp_path: Path) -> None:
    assert net.ledger is not None
    run = make_lora_run(tmp_path / "run", adapter)
    address, port = operator(tmp_path, "respondent", net), free_port()
    tables = '[backend]\nkind = "packaged"\nmodel = "smollm2"\nthreads = 1\nadapter = "run"\n[model]\nversion = "v2"'
    config = config_file(tmp_path, "respondent", net, port, 'stake = "0.2 ETH"', tables)
    proc = start("respondent", config)
    try:
        healthy(f"http://127.0.0.1:{port}", proc, tmp_path / "respondent.log", timeout=180)
        manifest = ExpertManifest.load(run)
        profile = net.ledger.get_provider(address).profile
        assert profile.weights_hash == "0x" + manifest.artifact.sha256 and profile.model_version == "v2"
        assert f"+lora-{manifest.artifact.sha256[:12]}" in profile.model_id
        served = httpx.get(f"http://127.0.0.1:{port}/v1/expert", timeout=10)
        assert served.status_code == 200
        assert ExpertManifest.model_validate_json(served.content).digest() == manifest.digest()
        weights = httpx.get(f"http://127.0.0.1:{port}/v1/weights/{manifest.artifact.sha256}", timeout=60)
        assert hashlib.sha256(weights.content).hexdigest() == manifest.artifact.sha256
    finally:
        assert stop(proc) == 0, (tmp_path / "respondent.log").read_text()[-3000:]
