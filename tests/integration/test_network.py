"""The whole network as separate processes on 127.0.0.1, with scripted backends and judges:
the OpenAI SDK against the coordinator, bad input, settlement on chain, and a respondent
killed mid-request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import OpenAI

from llmnet.launcher import Network, RespondentPlan
from llmnet.types import TaskStatus
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

FAKE = {"model_id": "fake-echo"}
RESPONDENTS = (
    RespondentPlan("fake-a", ("general", "law"), backend="fake", options=FAKE),
    RespondentPlan("fake-b", ("general", "law"), backend="fake", options=FAKE),
    RespondentPlan("fake-c", ("law",), backend="fake", options=FAKE),
    RespondentPlan("slow", ("medicine",), backend="fake", options={"model_id": "fake-slow", "delay_s": 0.4}),
    RespondentPlan("fast", ("medicine",), backend="fake", options={"model_id": "fake-fast"}),
)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    with running_network(tmp_path_factory.mktemp("net"), RESPONDENTS, judge="fake", k=2, rounds=1, max_tokens=32,
                         gold_rate=0.0) as network:  # gold tasks: see test_gold_network  # fmt: skip
        yield network


def client(net: Network) -> OpenAI:
    return OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=60, max_retries=0)


def auth(net: Network) -> dict[str, str]:
    return {"Authorization": f"Bearer {net.api_key}"}


def health(net: Network) -> dict[str, Any]:
    return httpx.get(net.base_url.removesuffix("/v1") + "/health").json()


def quiesce(net: Network, timeout: float = 60) -> int:
    """Wait until every task the coordinator holds is settled; return how many it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = health(net)["tasks"]
        if set(counts) <= {"settled"}:
            return sum(counts.values())
        time.sleep(0.3)
    raise AssertionError(f"tasks still in flight: {counts}")


def wait_settled(net: Network, task_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = httpx.get(f"{net.base_url.removesuffix('/v1')}/tasks/{task_id}", headers=auth(net)).json()
        if task["state"] == "settled":
            return task
        time.sleep(0.3)
    raise AssertionError(f"task {task_id} not settled: {task}")


def test_models_lists_auto_and_served_domains(net: Network) -> None:
    ids = {m.id for m in client(net).models.list()}
    assert ids == {"llmnet/auto", "llmnet/general", "llmnet/law", "llmnet/medicine"}


def test_sdk_chat_completion_with_debate_and_receipt(net: Network) -> None:
    resp = client(net).chat.completions.create(
        model="llmnet/law", messages=[{"role": "user", "content": "What is consideration in a contract?"}]
    )
    text = resp.choices[0].message.content
    assert text and "consideration" in text  # the fake backend echoes the prompt
    llmnet = resp.model_extra["llmnet"]  # type: ignore[index]
    receipt = llmnet["receipt"]
    assert receipt["domain"] == "law" and receipt["rounds"] == 1
    answered = [r for r in receipt["respondents"] if r["answered"]]
    assert len(answered) == 2 and all(r["score"] == 5.0 for r in answered)
    assert len(receipt["validators"]) == 2
    split = receipt["fee_split_wei"]
    assert sum(split.values()) == receipt["fee_wei"]
    assert set(split) >= {r["address"] for r in answered} | set(receipt["validators"])
    assert resp.usage is not None and resp.usage.completion_tokens > 0
    task = wait_settled(net, llmnet["task_id"])
    assert net.ledger is not None
    chain_task = net.ledger.get_task(task["chain_task_id"])
    assert chain_task.status == TaskStatus.SETTLED and chain_task.domain == "law"
    assert chain_task.fee == 2 * 10**13
    batch = net.ledger.get_batch(task["settlement"]["batch_id"])
    assert batch.tx_hash == task["settlement"]["tx_hash"] and batch.task_count >= 1
    for r in answered:
        assert net.ledger.reputation(r["address"], "law").count >= 1
        assert net.ledger.credits_of(r["address"]) >= split[r["address"]]  # paid as the receipt said
    # both validators staked in the validator book at start. The fake judge gives every answer 5:
    # ratings that tell no answers apart are no evidence about the validators (no better than
    # chance), so their trust stays at the initial 0.5
    book = {v.address: v for v in net.ledger.validators()}
    assert set(receipt["validators"]) <= set(book)
    for v in receipt["validators"]:
        assert book[v].stake >= 10**18 and book[v].judge_model_id == "judge-fake"
        assert book[v].trust == 0.5


def test_sdk_streaming_passes_tokens_through(net: Network) -> None:
    stream = client(net).chat.completions.create(
        model="llmnet/general",
        messages=[{"role": "user", "content": "say hello to the network"}],
        stream=True,
        extra_body={"llmnet": {"k": 1, "rounds": 0}},
    )
    pieces, last = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    assert "".join(pieces).strip().endswith("say hello to the network")  # the fake echoes
    assert last is not None and last.choices[0].finish_reason == "stop"
    receipt = last.model_extra["llmnet"]["receipt"]  # type: ignore[index]
    assert [r["answered"] for r in receipt["respondents"]] == [True]
    wait_settled(net, last.model_extra["llmnet"]["task_id"])  # type: ignore[index]


def test_streaming_with_debate_streams_the_chosen_answer(net: Network) -> None:
    stream = client(net).chat.completions.create(
        model="llmnet/law", messages=[{"role": "user", "content": "define tort"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "define tort" in text


@pytest.mark.parametrize(
    ("body", "key", "status", "kind"),
    [
        ("{not json", "good", 400, "invalid_request_error"),
        ({"model": "llmnet/auto", "messages": []}, "good", 400, "invalid_request_error"),
        ({"model": "llmnet/auto", "messages": [{"role": "user", "content": "  "}]}, "good", 400,
         "invalid_request_error"),
        ({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}, "good", 404, "not_found_error"),
        ({"model": "llmnet/cooking", "messages": [{"role": "user", "content": "hi"}]}, "good", 404,
         "not_found_error"),
        ({"model": "llmnet/auto", "messages": [{"role": "user", "content": "x" * 9000}]}, "good", 400,
         "invalid_request_error"),
        ({"model": "llmnet/auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "good", 400,
         "invalid_request_error"),
        ({"model": "llmnet/auto", "messages": [{"role": "user", "content": "hi"}]}, "sk-llmnet-made-up", 401,
         "authentication_error"),
        ({"model": "llmnet/auto", "messages": [{"role": "user", "content": "hi"}]}, None, 401,
         "authentication_error"),
    ],
)  # fmt: skip
def test_bad_input_gets_an_openai_error_and_records_nothing(
    net: Network, body: Any, key: str | None, status: int, kind: str
) -> None:
    assert net.ledger is not None
    tasks_before, chain_before = quiesce(net), net.ledger.task_count()
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {net.api_key if key == 'good' else key}"
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, str) else {"json": body}
    resp = httpx.post(f"{net.base_url}/chat/completions", headers=headers, timeout=30, **kwargs)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["type"] == kind and error["message"]
    time.sleep(1.2)  # one accountant pass
    assert quiesce(net) == tasks_before
    assert net.ledger.task_count() == chain_before


def test_sigkill_of_a_respondent_mid_request(net: Network) -> None:
    """The request is still answered; the dead respondent gets a reputation failure and no pay."""
    assert net.ledger is not None
    slow = next(p for p in net.ledger.providers("medicine") if p.profile.model_id == "fake-slow").address
    result: dict[str, Any] = {}

    def ask() -> None:
        result["resp"] = client(net).chat.completions.create(
            model="llmnet/medicine",
            messages=[{"role": "user", "content": "one two three four five six seven eight nine ten"}],
            extra_body={"llmnet": {"k": 2, "rounds": 0}},
        )

    thread = threading.Thread(target=ask)
    thread.start()
    time.sleep(1.5)  # the slow respondent is mid-answer (0.4 s per word)
    net.kill("slow")
    thread.join(60)
    resp = result["resp"]
    assert "one two three" in resp.choices[0].message.content
    receipt = resp.model_extra["llmnet"]["receipt"]
    dead = next(r for r in receipt["respondents"] if r["address"] == slow)
    assert dead["answered"] is False and dead["failure"]
    assert receipt["final_respondent"] != slow
    wait_settled(net, resp.model_extra["llmnet"]["task_id"])
    rep = net.ledger.reputation(slow, "medicine")
    assert rep.count == 1 and rep.alpha == 0 and rep.beta > 0
    assert net.ledger.credits_of(slow) == 0


def test_a_requester_without_escrowed_funds_gets_402_and_nothing_is_recorded(net: Network) -> None:
    from llmnet.api.keys import KeyBook
    from llmnet.chain.network import dev_account

    assert net.ledger is not None
    broke = dev_account(12).address  # funded with ether, but nothing deposited in the escrow
    assert net.ledger.deposit_of(broke) == 0
    key = KeyBook(net.root / "state" / "keys.sqlite").create("broke", broke)
    tasks_before, chain_before = quiesce(net), net.ledger.task_count()
    resp = httpx.post(
        f"{net.base_url}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "llmnet/general", "messages": [{"role": "user", "content": "hello"}]},
        timeout=30,
    )
    assert resp.status_code == 402, resp.text
    error = resp.json()["error"]
    assert error["type"] == "insufficient_quota" and broke in error["message"]
    time.sleep(1.2)
    assert quiesce(net) == tasks_before and net.ledger.task_count() == chain_before
