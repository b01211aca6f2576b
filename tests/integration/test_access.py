"""Who may ask what, on a whole network of separate processes with scripted backends and judges:
validators rate only what the coordinator assigned them, respondents and validators refuse a replayed
assignment, and a requester's receipts and ledger rows are shown to its own key only."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from openai import OpenAI

from llmnet.api.keys import KeyBook
from llmnet.chain.network import dev_account
from llmnet.launcher import COORDINATOR_DEV, Network, RespondentPlan, respondent_dev, validator_dev
from llmnet.roles.common import signing_domain
from llmnet.roles.protocol import Message, RatedAnswer, RateRequest, RespondPayload, RespondRequest
from llmnet.signing import RatingAssignment, Response, SigningDomain, TaskAssignment, sign
from llmnet.store import content_hash
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

FAKE = {"model_id": "fake-echo"}
RESPONDENTS = (
    RespondentPlan("fake-a", ("general",), backend="fake", options=FAKE),
    RespondentPlan("fake-b", ("general",), backend="fake", options=FAKE),
)
COORDINATOR, STRANGER = dev_account(COORDINATOR_DEV), dev_account(3)
RESPONDENT, UNREGISTERED = dev_account(respondent_dev(0)), dev_account(4)
VALIDATOR, OTHER_VALIDATOR = dev_account(validator_dev(0)), dev_account(validator_dev(1))


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    with running_network(tmp_path_factory.mktemp("access"), RESPONDENTS, judge="fake", k=2, rounds=0, max_tokens=16,
                         gold_rate=0.0, spot_check_rate=0.0) as network:  # fmt: skip
        yield network


def url_of(net: Network, name: str) -> str:
    return next(s.url for s in net.services if s.name == name)


def signing(net: Network) -> SigningDomain:
    assert net.ledger is not None
    return signing_domain(net.ledger)


def ask(net: Network, api_key: str) -> dict[str, Any]:
    client = OpenAI(base_url=net.base_url, api_key=api_key, timeout=60, max_retries=0)
    done = client.chat.completions.create(model="llmnet/general", messages=[{"role": "user", "content": "Hi?"}])
    llmnet: dict[str, Any] = (done.model_extra or {})["llmnet"]
    return llmnet


def other_key(net: Network) -> str:
    """A second requester with funds of its own (account 5 is otherwise unused here)."""
    assert net.ledger is not None
    other = dev_account(5)
    net.ledger.deposit(10**17, other)
    net.ledger.approve(COORDINATOR.address, 10**17, other)
    return KeyBook(net.root / "state" / "keys.sqlite").create("other", other.address)


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


# ------------------------------------------------------------------ rating needs a coordinator's assignment


def rated_answer(net: Network, respondent: LocalAccount, task_id: int, text: str = "Paris.") -> RatedAnswer:
    response = Response(task_id=task_id, respondent=respondent.address, content_hash=content_hash(text.encode()),
                        model_id="fake-echo", weights_hash="0x" + "00" * 32, round=0, prompt_tokens=1,
                        completion_tokens=1)  # fmt: skip
    signed = sign(response, respondent, signing(net)).to_dict()
    return RatedAnswer(respondent=respondent.address, text=text, response=signed)


def rate_body(net: Network, *, task_id: int, signer: LocalAccount | None = COORDINATOR,
              validator: str = VALIDATOR.address, deadline_in: float = 60,
              respondent: LocalAccount = RESPONDENT) -> dict[str, Any]:  # fmt: skip
    req = RateRequest(task_id=task_id, question="Capital of France?", answers=[rated_answer(net, respondent, task_id)])
    if signer is not None:
        a = RatingAssignment(task_id=task_id, coordinator=signer.address, validator=validator,
                             content_hash=req.digest(), round=0, deadline=int(time.time() + deadline_in))  # fmt: skip
        req = req.model_copy(update={"assignment": sign(a, signer, signing(net)).to_dict()})
    return req.model_dump(mode="json")


def logged_ratings(net: Network) -> int:
    (path,) = (net.root / "state").glob("chain-*/validator-1-ratings.sqlite")
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM ratings").fetchone()[0])


def test_answers_are_rated_under_the_coordinators_assignments(net: Network) -> None:
    receipt = ask(net, net.api_key)["receipt"]
    assert receipt["validators"] == sorted([VALIDATOR.address, OTHER_VALIDATOR.address])
    assert all(r["score"] is not None for r in receipt["respondents"] if r["answered"])


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"signer": None}, 403, "must carry a RatingAssignment"),
        ({"signer": STRANGER}, 403, "not a coordinator in good standing on chain"),
        ({"validator": OTHER_VALIDATOR.address}, 403, "not to this validator"),
        ({"deadline_in": -5}, 400, "has passed"),
        ({"deadline_in": 3600}, 400, "at most 900 s"),
        ({"respondent": UNREGISTERED}, 403, "not a registered respondent"),
    ],
)
def test_a_rate_request_without_a_valid_assignment_is_refused_and_logs_nothing(
    net: Network, change: dict[str, Any], status: int, message: str
) -> None:
    before = logged_ratings(net)
    resp = httpx.post(f"{url_of(net, 'validator-1')}/v1/rate", json=rate_body(net, task_id=1000, **change))
    assert resp.status_code == status, resp.text
    assert message in resp.json()["error"]["message"]
    assert logged_ratings(net) == before


def test_a_replayed_rate_request_is_refused(net: Network) -> None:
    body, url = rate_body(net, task_id=2000), f"{url_of(net, 'validator-1')}/v1/rate"
    before = logged_ratings(net)
    first = httpx.post(url, json=body)
    assert first.status_code == 200 and len(first.json()["ratings"]) == 1
    assert logged_ratings(net) == before + 1
    again = httpx.post(url, json=body)
    assert again.status_code == 400 and "replayed message is refused" in again.json()["error"]["message"]
    assert logged_ratings(net) == before + 1


def test_a_replayed_respondent_assignment_is_refused(net: Network) -> None:
    payload = RespondPayload(messages=[Message(role="user", content="Capital of France?")], max_tokens=8)
    a = TaskAssignment(task_id=3000, coordinator=COORDINATOR.address, respondent=RESPONDENT.address,
                       content_hash=payload.digest(), round=0, deadline=int(time.time()) + 60)  # fmt: skip
    body = RespondRequest(assignment=sign(a, COORDINATOR, signing(net)).to_dict(), payload=payload).model_dump()
    url = f"{url_of(net, 'fake-a')}/v1/respond"
    assert httpx.post(url, json=body).status_code == 200
    again = httpx.post(url, json=body)
    assert again.status_code == 400 and "replayed message is refused" in again.json()["error"]["message"]
    streamed = httpx.post(url, json=body | {"stream": True})
    assert streamed.status_code == 400


# ------------------------------------------------------------------ receipts and ledger rows: the requester's own


def test_a_task_is_shown_to_its_requesters_key_only(net: Network) -> None:
    task_id = ask(net, net.api_key)["task_id"]
    url = f"{net.base_url.removesuffix('/v1')}/tasks/{task_id}"

    mine = httpx.get(url, headers=bearer(net.api_key))
    assert mine.status_code == 200 and mine.json()["receipt"]["requester"] == dev_account(9).address
    nobody = httpx.get(url)
    assert nobody.status_code == 401 and nobody.json()["error"]["type"] == "authentication_error"
    theirs = httpx.get(url, headers=bearer(other_key(net)))
    missing = httpx.get(f"{net.base_url.removesuffix('/v1')}/tasks/0x1234", headers=bearer(net.api_key))
    assert theirs.status_code == missing.status_code == 404
    # the same answer as for a task that does not exist: existence does not leak
    assert theirs.json()["error"]["message"] == f"no task {task_id} at this coordinator"
    proof = httpx.get(f"{net.base_url.removesuffix('/v1')}/ui/api/tasks/{task_id}/proof")
    assert proof.status_code == 401


def test_the_ledger_view_lists_the_callers_own_tasks_and_public_batches(net: Network) -> None:
    key = other_key(net)
    theirs = ask(net, key)["task_id"]
    mine = ask(net, net.api_key)["task_id"]
    ledger = f"{net.base_url.removesuffix('/v1')}/ui/api/ledger"

    own = httpx.get(ledger, headers=bearer(net.api_key)).json()
    assert mine in {t["task_key"] for t in own["tasks"]} and theirs not in {t["task_key"] for t in own["tasks"]}
    assert {t["requester"] for t in own["tasks"]} == {dev_account(9).address}
    other = httpx.get(ledger, headers=bearer(key)).json()
    assert [t["task_key"] for t in other["tasks"]] == [theirs]
    anonymous = httpx.get(ledger)
    assert anonymous.status_code == 200 and anonymous.json()["tasks"] == []
    assert set(anonymous.json()) >= {"batches", "transactions", "chain_id"}  # public chain data stays public
    assert httpx.get(ledger, headers=bearer("sk-llmnet-not-a-key")).status_code == 401
