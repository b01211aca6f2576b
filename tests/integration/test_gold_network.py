"""Gold tasks on a live network: the coordinator mixes in a question whose answer it knows,
pays for it itself, and the settler scores validators against the truth."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from llmnet.chain.network import dev_account
from llmnet.launcher import COORDINATOR_DEV, Network, RespondentPlan
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

RESPONDENTS = (
    RespondentPlan("echo-a", ("general",), backend="fake", options={"model_id": "fake-echo"}),
    RespondentPlan("echo-b", ("general",), backend="fake", options={"model_id": "fake-echo"}),
)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    with running_network(tmp_path_factory.mktemp("gold"), RESPONDENTS, judge="fake", k=2, rounds=0,
                         gold_rate=1.0) as network:  # every task is followed by a gold task  # fmt: skip
        yield network


def test_a_gold_task_follows_a_request_and_costs_inaccurate_validators_trust(net: Network) -> None:
    assert net.ledger is not None
    base = net.base_url.removesuffix("/v1")
    body = {"model": "llmnet/general", "messages": [{"role": "user", "content": "Say something."}]}
    resp = httpx.post(f"{net.base_url}/chat/completions", json=body, timeout=60,
                      headers={"Authorization": f"Bearer {net.api_key}"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + 90
    health: dict[str, object] = {}
    while time.monotonic() < deadline:
        health = httpx.get(f"{base}/health").json()
        if health["gold_tasks"] == 1 and health["tasks"] == {"settled": 2}:
            break
        time.sleep(0.5)
    assert health["gold_tasks"] == 1 and health["tasks"] == {"settled": 2}, health
    assert health["gold_error"] is None
    # the gold task was opened in escrow and paid by the coordinator itself
    coordinator = dev_account(COORDINATOR_DEV).address
    requesters = {net.ledger.get_task(i).requester for i in range(net.ledger.task_count())}
    assert coordinator in requesters
    # the fake judge gives every answer 5; the truth for an echoed question is far lower, so the
    # validators' trust falls below where one agreeing task alone would have left it (0.55)
    for v in net.ledger.validators():
        assert v.trust < 0.5, v
