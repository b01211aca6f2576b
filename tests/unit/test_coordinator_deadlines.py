"""The coordinator never waits on its slowest peer: hung validators and respondents against an
in-memory network (the same real respondents and raters as tests/unit/test_coordinator.py, behind
an async ``MockTransport`` handler that can hold a peer's answer back for an hour)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field

import httpx

from llmnet.api.http_client import HttpxClient
from llmnet.reputation.selection import Greedy
from llmnet.roles.coordinator import Coordinator, CoordinatorSettings, TaskRun
from llmnet.roles.peers import Breaker
from llmnet.roles.receipt import receipt_of
from llmnet.roles.streaming import stream_single
from tests.unit.test_coordinator import (
    COORDINATOR,
    SIGNING,
    VALIDATORS,
    Network,
    addr,
    answer_of,
    build_network,
    directory_of,
    new_run,
)

FAST = CoordinatorSettings(k=2, rounds=0, respondent_timeout_s=30, rating_timeout_s=30, grace_min_s=0.2,
                           grace_factor=0, cooldown_s=5)  # fmt: skip


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Stalls:
    """Which peers hold their answer back: validator numbers, and (respondent, round) pairs."""

    validators: set[int] = field(default_factory=set)
    respondents: set[tuple[int, int]] = field(default_factory=set)
    asked: list[str] = field(default_factory=list)

    def handler(self, net: Network) -> Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]:
        async def handle(request: httpx.Request) -> httpx.Response:
            host = request.url.host.split(".")[0]
            self.asked.append(host)
            if self._stalled(host, request):
                await asyncio.sleep(3600)
            return net.handler(request)

        return handle

    def _stalled(self, host: str, request: httpx.Request) -> bool:
        n = int(host[1:])
        if host[0] == "v":
            return n in self.validators
        return (n, json.loads(request.content)["payload"]["round"]) in self.respondents


def run_tasks(net: Network, stalls: Stalls, ranked: list[int], tasks: list[Callable[[Coordinator], None]],
              settings: CoordinatorSettings = FAST, clock: FakeClock | None = None) -> list[TaskRun]:  # fmt: skip
    """One coordinator runs one task per entry of ``tasks``, each entry first called to set the scene."""

    async def go() -> list[TaskRun]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(stalls.handler(net))) as client:
            validators = [f"http://v{v}.test" for v in VALIDATORS]
            coordinator = Coordinator(directory_of(ranked), Greedy(), COORDINATOR, SIGNING,  # type: ignore[arg-type]
                                      validators, settings, HttpxClient(client), seed=0)  # fmt: skip
            if clock is not None:
                coordinator.validator_health = Breaker(settings, clock)
                coordinator.respondent_health = Breaker(settings, clock)
            runs = []
            for i, before in enumerate(tasks):
                before(coordinator)
                runs.append(await coordinator.run(new_run(settings.k, settings.rounds, task_key=100 + i), 64))
            return runs

    return asyncio.run(asyncio.wait_for(go(), 120))


def test_a_hung_validator_costs_the_grace_is_named_in_the_receipt_then_cooled_down_until_it_answers() -> None:
    net, stalls, clock = build_network({6: {1: 8, 2: 6}, 7: {1: 8, 2: 6}}), Stalls(validators={7}), FakeClock()

    def resume(_: Coordinator) -> None:
        stalls.validators.clear()
        clock.now += FAST.cooldown_s

    runs = run_tasks(net, stalls, [1, 2, 3], [lambda _: None, lambda _: None, resume, lambda _: None], clock=clock)
    hung, cooled, probe, after = (receipt_of(r, 10**15, 1337) for r in runs)
    v6, v7 = VALIDATORS[6].address, VALIDATORS[7].address
    assert hung["validators"] == [v6] and hung["unrated_validators"] == [v7] and hung["cooling_validators"] == []
    assert runs[0].scores == {addr(1): 8.0, addr(2): 6.0}  # the answer returns with the ratings that arrived
    assert cooled["validators"] == [v6] and cooled["unrated_validators"] == [] and cooled["cooling_validators"] == [v7]
    asked_validators = [host for host in stalls.asked if host[0] == "v"]
    assert asked_validators == ["v6", "v7", "v6", "v6", "v7", "v6", "v7"]  # the second task did not ask v7
    assert probe["validators"] == sorted([v6, VALIDATORS[7].address]) and probe["unrated_validators"] == []
    assert after["validators"] == probe["validators"] and after["cooling_validators"] == []


def test_a_validator_that_misses_again_after_its_cooldown_is_cooled_down_longer() -> None:
    net, stalls, clock = build_network(), Stalls(validators={7}), FakeClock()

    def later(seconds: float) -> Callable[[Coordinator], None]:
        def advance(_: Coordinator) -> None:
            clock.now += seconds

        return advance

    runs = run_tasks(net, stalls, [1, 2], [later(0), later(FAST.cooldown_s), later(FAST.cooldown_s)], clock=clock)
    v7 = VALIDATORS[7].address
    assert [r.unrated_validators for r in runs] == [[v7], [v7], []]
    assert runs[2].cooling_validators == [v7]  # second miss: 10 s, and only 5 have passed


def test_a_respondent_that_does_not_revise_in_time_keeps_its_answer_and_is_marked_late() -> None:
    net, stalls = build_network({6: {1: 5, 2: 9, 3: 5}, 7: {1: 5, 2: 9, 3: 5}}), Stalls(respondents={(2, 1)})
    settings = FAST.model_copy(update={"k": 3, "rounds": 1})
    (run,) = run_tasks(net, stalls, [1, 2, 3], [lambda _: None], settings)
    assert {who: a.text for who, a in run.answers.items()} == {
        addr(1): f"{answer_of(1)} (revised)", addr(2): answer_of(2), addr(3): f"{answer_of(3)} (revised)",
    }  # fmt: skip
    assert run.late == {addr(2): [1]} and run.failed == {}
    assert run.final_respondent == addr(2)  # the best answer was not lost for being late
    rows = {row["address"]: row for row in receipt_of(run, 10**15, 1337)["respondents"]}
    assert rows[addr(2)]["late_in_rounds"] == [1] and rows[addr(1)]["late_in_rounds"] == []


def test_a_respondent_that_timed_out_is_ranked_after_the_others_while_it_cools_down() -> None:
    net, stalls = build_network(), Stalls(respondents={(1, 0)})
    settings = FAST.model_copy(update={"respondent_timeout_s": 0.2})
    first, second = run_tasks(net, stalls, [1, 2, 3], [lambda _: None, lambda _: None], settings)
    assert [c.provider for c in first.chosen] == [addr(1), addr(2), addr(3)]
    assert first.failed[addr(1)].startswith("TimeoutError")
    assert [c.provider for c in second.chosen] == [addr(2), addr(3)]  # not removed: ranked last
    assert second.failed == {}


def test_a_streaming_respondent_that_failed_is_ranked_last_while_it_cools_down() -> None:
    net, stalls = build_network(), Stalls()
    net.dead = {1}
    settings = FAST.model_copy(update={"k": 1})

    async def go() -> list[TaskRun]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(stalls.handler(net))) as client:
            coordinator = Coordinator(directory_of([1, 2, 3]), Greedy(), COORDINATOR, SIGNING, [],  # type: ignore[arg-type]
                                      settings, HttpxClient(client), seed=0)  # fmt: skip
            runs = [new_run(1, 0, task_key=200), new_run(1, 0, task_key=201)]
            for run in runs:
                assert "".join([d async for d in stream_single(coordinator, run, 64)]) == answer_of(2)
            return runs

    first, second = asyncio.run(go())
    assert [c.provider for c in first.chosen] == [addr(1), addr(2)]
    assert [c.provider for c in second.chosen] == [addr(2)]
