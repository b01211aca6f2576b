"""Settlement under replayed and bad outcomes: a replay under another task id is refused before it
is queued, and an outcome whose settlement the chain refuses is set aside while the rest settles."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import OpenAI

from llmnet.chain.network import dev_account
from llmnet.launcher import COORDINATOR_DEV, Network, RespondentPlan
from llmnet.roles.common import signing_domain
from llmnet.roles.outcome import Outcome, TaskRecord
from llmnet.types import TaskStatus
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

FAKE = {"model_id": "fake-echo"}
RESPONDENTS = (
    RespondentPlan("fake-a", ("general",), backend="fake", options=FAKE),
    RespondentPlan("fake-b", ("general",), backend="fake", options=FAKE),
)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    with running_network(tmp_path_factory.mktemp("net"), RESPONDENTS, judge="fake", k=2, rounds=0, max_tokens=16,
                         gold_rate=0.0, spot_check_rate=0.0) as network:  # fmt: skip
        yield network


def settler_url(net: Network) -> str:
    return next(s.url for s in net.services if s.name == "validator-1")


def ask(net: Network, question: str) -> str:
    client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=60, max_retries=0)
    resp = client.chat.completions.create(model="llmnet/general", messages=[{"role": "user", "content": question}])
    return str(resp.model_extra["llmnet"]["task_id"])  # type: ignore[index]


def task(net: Network, task_key: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {net.api_key}"}
    return httpx.get(f"{net.base_url.removesuffix('/v1')}/tasks/{task_key}", headers=headers).json()  # type: ignore[no-any-return]


def wait_for(net: Network, task_key: str, state: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = task(net, task_key)
        if found.get("state") == state:
            return found
        time.sleep(0.3)
    raise AssertionError(f"task {task_key} never reached {state}: {found}")


def sent_outcome(net: Network, task_key: str) -> dict[str, Any]:
    """The outcome exactly as the coordinator sent it to the settler (rebuilt from its books)."""
    db = next((net.root / "state").glob("chain-*/coordinator-tasks.sqlite"))
    row = sqlite3.connect(db).execute("SELECT chain_task_id, outcome FROM tasks WHERE task_key = ?", (task_key,))
    chain_task_id, text = row.fetchone()
    assert net.ledger is not None
    record = TaskRecord.model_validate_json(text)
    claim = record.claim(chain_task_id, dev_account(COORDINATOR_DEV), signing_domain(net.ledger))
    return Outcome(claim=claim.to_dict(), record=record).model_dump(mode="json")


def settle(net: Network, outcome: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{settler_url(net)}/v1/settle", json={"outcomes": [outcome]}, timeout=30)


def test_a_replay_under_another_task_id_is_refused_and_settlement_goes_on(net: Network) -> None:
    first = ask(net, "What is two plus two?")
    settled = wait_for(net, first, "settled")
    outcome = sent_outcome(net, first)
    assert settle(net, outcome).json()["accepted"] == 0  # the same outcome again: already queued, nothing new
    assert net.ledger is not None
    for other in (settled["chain_task_id"] + 1, 10**9):  # the next task to be opened, and one never opened
        replay = outcome | {"claim": outcome["claim"] | {"message": outcome["claim"]["message"] | {"task_id": other}}}
        resp = settle(net, replay)
        assert resp.status_code == 403, resp.text
        assert resp.json()["error"]["type"] == "permission_error"
        assert httpx.get(f"{settler_url(net)}/v1/settlements/{other}", timeout=10).status_code == 404
    second = ask(net, "What is three plus three?")
    after = wait_for(net, second, "settled")
    assert net.ledger.get_task(after["chain_task_id"]).status == TaskStatus.SETTLED


def test_an_outcome_the_chain_refuses_is_set_aside_and_the_rest_settles(net: Network) -> None:
    template = task(net, ask(net, "What is five plus five?"))["receipt"]
    # the trusted coordinator itself claims a task the chain never opened (a bug, or a lost chain):
    bad_record = TaskRecord.of(template | {"task_key": hex(2**127 + 12345)}, [], [])
    assert net.ledger is not None
    unknown = net.ledger.task_count() + 10_000
    claim = bad_record.claim(unknown, dev_account(COORDINATOR_DEV), signing_domain(net.ledger))
    bad = Outcome(claim=claim.to_dict(), record=bad_record).model_dump(mode="json")
    assert settle(net, bad).json()["accepted"] == 1  # it verifies: only the chain can tell
    good = [ask(net, f"What is {n} plus {n}?") for n in (6, 7, 8)]
    for key in good:
        settled = wait_for(net, key, "settled")
        assert net.ledger.get_task(settled["chain_task_id"]).status == TaskStatus.SETTLED
    state = httpx.get(f"{settler_url(net)}/v1/settlements/{unknown}", timeout=10).json()
    assert state["state"] == "set_aside", state
    assert "unknown task" in state["reason"]
