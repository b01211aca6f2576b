"""Adaptive collaboration (llmnet.roles.collaboration) against the in-memory network of
tests/unit/test_coordinator.py: real respondents and raters, with judges scripted by answer text."""

from __future__ import annotations

import asyncio
import doctest
from collections.abc import Callable, Mapping

import httpx
import pytest

from llmnet.api.http_client import HttpxClient
from llmnet.backends.base import GenerationRequest
from llmnet.backends.fake import FakeBackend
from llmnet.reputation.selection import Greedy
from llmnet.roles import collaboration as collaboration_module
from llmnet.roles.coordinator import Coordinator, CoordinatorSettings, TaskRun
from llmnet.roles.judge import FakeJudge
from llmnet.roles.respondent import Respondent
from llmnet.roles.streaming import stream
from llmnet.roles.validator import Rater
from tests.unit.test_coordinator import (
    COORDINATOR,
    DEBATE_NOTE,
    RESPONDENTS,
    SIGNING,
    VALIDATORS,
    Network,
    addr,
    directory_of,
    new_run,
    rating_gate,
)

Texts = Mapping[int, str]


def network(texts: Texts, revised: Texts, score: Callable[[str], float]) -> Network:
    """Respondent i answers ``texts[i]``, and ``revised[i]`` once it has seen the others' answers;
    both validators score an answer by its text."""
    trusted = frozenset({COORDINATOR.address})
    net = Network()
    for i, account in RESPONDENTS.items():

        def respond(request: GenerationRequest, i: int = i) -> str:
            debating = any(m.role == "system" and DEBATE_NOTE in m.content for m in request.messages)
            return revised.get(i, texts.get(i, "")) if debating else texts.get(i, f"answer {i}")

        net.respondents[i] = Respondent(FakeBackend(respond, model_id=f"fake-{i}"), account, SIGNING, trusted)
    for v, account in VALIDATORS.items():
        judge = FakeJudge(lambda _key, text: score(text))
        net.raters[v] = Rater(judge, account, SIGNING, gate=rating_gate(account.address))
    return net


def adaptive(net: Network, ranked: list[int], *, k: int = 3, rounds: int = 1) -> TaskRun:
    async def go() -> TaskRun:
        async with httpx.AsyncClient(transport=httpx.MockTransport(net.handler)) as client:
            settings = CoordinatorSettings(k=k, rounds=rounds, respondent_timeout_s=5.0, rating_timeout_s=5.0)
            coordinator = Coordinator(directory_of(ranked), Greedy(), COORDINATOR, SIGNING,  # type: ignore[arg-type]
                                      [f"http://v{v}.test" for v in VALIDATORS], settings, HttpxClient(client),
                                      seed=0)  # fmt: skip
            run = new_run(k, rounds)
            run.adaptive = True
            return await coordinator.run(run, max_tokens=64)

    return asyncio.run(go())


def scores_of(table: Mapping[str, float]) -> Callable[[str], float]:
    return lambda text: table.get(text, 5.0)


def respond_calls(net: Network) -> int:
    return sum(1 for url in net.calls if url.endswith("/v1/respond"))


def test_a_confidently_rated_first_answer_is_final_after_one_generation() -> None:
    net = network({1: "Paris.", 2: "Lyon.", 3: "Nice."}, {}, scores_of({"Paris.": 9.5}))
    run = adaptive(net, [1, 2, 3])
    assert respond_calls(net) == 1
    assert [c.provider for c in run.chosen] == [addr(1)]
    assert run.final == "Paris." and run.final_respondent == addr(1)
    assert run.escalated == [] and run.fee_units == 1
    assert run.respondent_tokens > 0
    assert {r["message"]["respondent"] for r in run.ratings} == {addr(1)}


def test_a_low_rated_first_answer_brings_in_the_next_respondents_and_the_best_answer_wins() -> None:
    net = network({1: "Lyon.", 2: "Paris.", 3: "Nice."}, {}, scores_of({"Lyon.": 2, "Paris.": 9, "Nice.": 3}))
    run = adaptive(net, [1, 2, 3])
    assert run.escalated == ["more respondents"]
    assert respond_calls(net) == 3  # confident after the second wave: no debate round
    assert run.final == "Paris." and run.final_respondent == addr(2)
    assert run.fee_units == 3
    assert set(run.scores) == {addr(1), addr(2), addr(3)}
    assert {r["message"]["respondent"] for r in run.ratings} == {addr(1), addr(2), addr(3)}


def test_a_debate_round_never_replaces_an_answer_with_a_worse_rated_revision() -> None:
    texts = {1: "Lyon.", 2: "Paris, 35 years.", 3: "Nice."}
    revised = {1: "Lyon still.", 2: "Paris, 20 years.", 3: "Nice still."}
    table = {"Paris, 35 years.": 7.0, "Paris, 20 years.": 2.0, "Lyon.": 3.0, "Nice.": 3.0}
    net = network(texts, revised, scores_of(table))
    run = adaptive(net, [1, 2, 3])
    assert run.escalated == ["more respondents", "round 1"]
    assert run.final == "Paris, 35 years."  # its revision was rated 2: the grounded answer stands
    assert run.answers[addr(2)].text == "Paris, 35 years."
    kept = [r for r in run.ratings if r["message"]["respondent"] == addr(2)]
    assert kept and all(r["message"]["round"] == 0 for r in kept)
    assert run.scores[addr(2)] == 7.0


def test_a_better_rated_revision_replaces_the_earlier_answer() -> None:
    texts = {1: "Lyon.", 2: "Marseille.", 3: "Nice."}
    revised = {1: "Paris.", 2: "Marseille.", 3: "Nice."}
    net = network(texts, revised, scores_of({"Paris.": 9.0, "Lyon.": 2.0}))
    run = adaptive(net, [1, 2, 3])
    assert run.final == "Paris." and run.final_respondent == addr(1)
    assert any(r["message"]["round"] == 1 for r in run.ratings if r["message"]["respondent"] == addr(1))


def test_a_tie_goes_to_the_answer_others_agree_with_not_to_the_first_asked() -> None:
    texts = {1: "It is 41.", 2: "It is 42.", 3: "The answer is 42."}
    net = network(texts, {}, lambda _text: 5.0)
    run = adaptive(net, [1, 2, 3], rounds=0)
    assert run.final_respondent == addr(2)  # 42 is stated twice; then the better-reputed of the two


def test_fixed_collaboration_is_unchanged_k_at_once() -> None:
    net = network({1: "Paris.", 2: "Lyon.", 3: "Nice."}, {}, scores_of({"Paris.": 9.5}))

    async def go() -> TaskRun:
        async with httpx.AsyncClient(transport=httpx.MockTransport(net.handler)) as client:
            settings = CoordinatorSettings(k=3, rounds=0, respondent_timeout_s=5.0, rating_timeout_s=5.0)
            coordinator = Coordinator(directory_of([1, 2, 3]), Greedy(), COORDINATOR, SIGNING,  # type: ignore[arg-type]
                                      [f"http://v{v}.test" for v in VALIDATORS], settings, HttpxClient(client),
                                      seed=0)  # fmt: skip
            return await coordinator.run(new_run(3, 0), max_tokens=64)

    run = asyncio.run(go())
    assert respond_calls(net) == 3 and run.fee_units == 3 and not run.adaptive


Both = tuple[str, TaskRun, str, TaskRun]


def stream_and_run(
    texts: Texts, table: Mapping[str, float], settings: CoordinatorSettings, lead_history: tuple[bool, ...] = ()
) -> Both:
    """The same adaptive task streamed and not streamed, on two fresh copies of one network, with
    respondent 1's earlier lone answers rated confident or not as ``lead_history`` says."""

    async def go(streamed: bool) -> tuple[str, TaskRun]:
        net = network(texts, {}, scores_of(table))
        async with httpx.AsyncClient(transport=httpx.MockTransport(net.handler)) as client:
            coordinator = Coordinator(directory_of([1, 2, 3]), Greedy(), COORDINATOR, SIGNING,  # type: ignore[arg-type]
                                      [f"http://v{v}.test" for v in VALIDATORS], settings, HttpxClient(client),
                                      seed=0)  # fmt: skip
            for was_confident in lead_history:
                coordinator.leads.note(addr(1), "general", was_confident)
            run = new_run(settings.k, settings.rounds)
            run.adaptive = True
            if streamed:
                return "".join([d async for d in stream(coordinator, run, 64)]), run
            await coordinator.run(run, max_tokens=64)
            return run.final, run

    text, streamed_run = asyncio.run(go(True))
    plain, plain_run = asyncio.run(go(False))
    return text, streamed_run, plain, plain_run


SETTINGS = CoordinatorSettings(k=3, rounds=1, trust_window=4, trusted_share=0.75, respondent_timeout_s=5.0,
                               rating_timeout_s=5.0)  # fmt: skip


def test_a_proven_lead_answers_alone_even_when_rated_low_and_streams_what_it_would_answer_unstreamed() -> None:
    # three of its last four lone answers in the domain were confident: 0.75 of them
    text, streamed, plain, unstreamed = stream_and_run({1: "Lyon.", 2: "Paris."}, {"Lyon.": 2.0, "Paris.": 9.0},
                                                       SETTINGS, (True, False, True, True))  # fmt: skip
    assert text == plain == "Lyon."
    assert streamed.trusted_lead and unstreamed.trusted_lead
    assert len(streamed.answers) == len(unstreamed.answers) == 1 and streamed.escalated == unstreamed.escalated == []
    assert streamed.scores[addr(1)] == 2.0  # still rated: the slip goes to its reputation


@pytest.mark.parametrize("history", [(), (True, True, True), (True, False, False, True), (True,) * 8 + (False,) * 2])
def test_an_unproven_lead_is_checked_first_and_the_streamed_text_is_the_chosen_answer(
    history: tuple[bool, ...],
) -> None:
    # too few lone answers seen, too few of them confident, or the last ones not
    text, streamed, plain, unstreamed = stream_and_run({1: "Lyon.", 2: "Paris."}, {"Lyon.": 2.0, "Paris.": 9.0},
                                                       SETTINGS, history)  # fmt: skip
    assert text == plain == "Paris."
    assert not streamed.trusted_lead and not unstreamed.trusted_lead
    assert streamed.escalated == unstreamed.escalated == ["more respondents"]


def test_a_lead_earns_trust_from_its_confident_lone_answers_and_loses_it_when_it_slips() -> None:
    texts = {1: "Paris.", 2: "Paris, on the Seine."}
    net = network(texts, {}, scores_of({"Paris.": 9.5, "Lyon.": 2.0, "Paris, on the Seine.": 9.0}))

    async def go() -> list[TaskRun]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(net.handler)) as client:
            coordinator = Coordinator(directory_of([1, 2, 3]), Greedy(), COORDINATOR, SIGNING,  # type: ignore[arg-type]
                                      [f"http://v{v}.test" for v in VALIDATORS], SETTINGS, HttpxClient(client),
                                      seed=0)  # fmt: skip
            runs = []
            for n in range(7):
                texts[1] = "Paris." if n < 4 else "Lyon."  # four good lone answers, then it slips
                run = new_run(SETTINGS.k, SETTINGS.rounds, task_key=100 + n)
                run.adaptive = True
                runs.append(await coordinator.run(run, max_tokens=64))
            return runs

    runs = asyncio.run(go())
    assert [r.trusted_lead for r in runs] == [False] * 4 + [True, True, False]
    assert [r.final for r in runs[4:]] == ["Lyon.", "Lyon.", "Paris, on the Seine."]  # trusted: no second opinion
    assert runs[6].escalated == ["more respondents"]


def test_the_lead_record_example_holds() -> None:
    failures, tried = doctest.testmod(collaboration_module)
    assert tried >= 3 and failures == 0
