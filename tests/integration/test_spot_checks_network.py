"""Spot checks in a running network, with real llama.cpp models: validators re-run what they
rate, an impostor (serving Gemma-3-270M under SmolLM2's registered weights) is convicted on
chain by their attestations, and the honest SmolLM2 respondent beside it keeps its stake."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from llmnet.launcher import Network, RespondentPlan
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

RESPONDENTS = (
    RespondentPlan("honest", ("general",), options={"model": "smollm2", "n_threads": 1}),
    RespondentPlan("impostor", ("general",), backend="impostor",
                   options={"serve": {"model": "gemma3-270m", "mode": "completion", "n_threads": 1},
                            "claim": {"model": "smollm2", "n_threads": 1}}),
)  # fmt: skip


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    with running_network(tmp_path_factory.mktemp("spot"), RESPONDENTS, timeout=240, judge="fake", k=2, rounds=0,
                         max_tokens=24, gold_rate=0.0, spot_check_rate=1.0) as network:  # fmt: skip
        yield network


def test_validators_catch_the_impostor_and_spare_the_honest_respondent(net: Network) -> None:
    assert net.ledger is not None
    providers = {p.profile.model_id: p for p in net.ledger.providers("general")}
    assert len({p.profile.weights_hash for p in providers.values()}) == 1  # both claim SmolLM2's weights
    by_name = {p.address: p for p in net.ledger.providers("general")}
    stakes = {a: p.stake for a, p in by_name.items()}
    body = {"model": "llmnet/general", "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "llmnet": {"collaboration": "fixed"}}  # fmt: skip
    resp = httpx.post(f"{net.base_url}/chat/completions", json=body, timeout=120,
                      headers={"Authorization": f"Bearer {net.api_key}"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    answered = {r["address"] for r in resp.json()["llmnet"]["receipt"]["respondents"] if r["answered"]}
    assert answered == set(by_name)  # k = 2: both answered, both were rated, both were re-run
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        now = {a: net.ledger.get_provider(a).stake for a in by_name}
        if 0 in now.values():
            break
        time.sleep(1)
    convicted = [a for a, s in now.items() if s == 0]
    assert len(convicted) == 1, now
    impostor_port = net.options.respondent_base_port + 1
    assert by_name[convicted[0]].profile.endpoint.endswith(f":{impostor_port}")
    honest = next(a for a in by_name if a != convicted[0])
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
    assert sum(h["spot_checks"]["convicted"] for h in health) == 1
    assert net.ledger.get_provider(honest).stake == stakes[honest]
