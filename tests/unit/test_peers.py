"""The deadline rules on a fake clock: the quorum and grace cut-off, and the per-peer circuit breaker."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from llmnet.roles.gathering import gather_quorum
from llmnet.roles.peers import Breaker, PeerDeadlines, cutoff, quorum

RULE = PeerDeadlines(rating_timeout_s=30, grace_factor=1.0, grace_min_s=0.5, cooldown_s=5, cooldown_max_s=40)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------ quorum and grace


@pytest.mark.parametrize(("asked", "needed"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)])
def test_a_quorum_is_half_of_those_asked_rounded_up(asked: int, needed: int) -> None:
    assert quorum(asked) == needed


def test_before_a_quorum_the_hard_deadline_holds() -> None:
    assert cutoff(30, None, RULE) == 30


def test_after_a_quorum_the_others_get_the_grace_at_least_its_minimum() -> None:
    assert cutoff(30, 0.01, RULE) == pytest.approx(0.51)  # fast quorum: the minimum grace
    assert cutoff(30, 2.0, RULE) == pytest.approx(4.0)  # slow quorum: as long again


def test_the_grace_never_passes_the_hard_deadline() -> None:
    assert cutoff(30, 20.0, RULE) == 30


def test_limits_are_checked() -> None:
    with pytest.raises(ValidationError):
        PeerDeadlines(rating_timeout_s=0)
    with pytest.raises(ValidationError):
        PeerDeadlines(grace_min_s=-1)


# ------------------------------------------------------------------ the breaker


def test_a_peer_that_missed_is_skipped_for_its_cooldown() -> None:
    clock = FakeClock()
    breaker = Breaker(RULE, clock)
    assert breaker.admit("v1")
    breaker.missed("v1")
    assert not breaker.admit("v1") and breaker.cooling("v1")
    assert breaker.admit("v2")  # others are unaffected
    clock.now += 4.9
    assert not breaker.admit("v1")
    clock.now += 0.2
    assert not breaker.cooling("v1") and breaker.admit("v1")


def test_after_the_cooldown_only_one_caller_probes() -> None:
    clock = FakeClock()
    breaker = Breaker(RULE, clock)
    breaker.missed("v1")
    clock.now += 5
    assert breaker.admit("v1")
    assert not breaker.admit("v1") and not breaker.admit("v1")  # the probe is out
    breaker.succeeded("v1")
    assert breaker.admit("v1") and breaker.admit("v1")  # closed again: everyone asks


def test_repeated_misses_double_the_cooldown_up_to_the_cap_and_a_success_resets_it() -> None:
    clock = FakeClock()
    breaker = Breaker(RULE, clock)
    pauses = []
    for _ in range(6):
        breaker.missed("v1")
        start = clock.now
        while not breaker.admit("v1"):
            clock.now += 0.5
        pauses.append(clock.now - start)
    assert pauses == [5, 10, 20, 40, 40, 40]
    breaker.succeeded("v1")
    breaker.missed("v1")
    clock.now += 5
    assert breaker.admit("v1")  # back to the base cooldown


def test_a_probe_that_never_reports_back_expires() -> None:
    clock = FakeClock()
    breaker = Breaker(RULE, clock)
    breaker.missed("v1")
    clock.now += 5
    assert breaker.admit("v1")
    clock.now += RULE.cooldown_max_s - 1
    assert not breaker.admit("v1")
    clock.now += 1
    assert breaker.admit("v1")


def test_cooling_peers_are_ranked_last_in_their_order() -> None:
    clock = FakeClock()
    breaker = Breaker(RULE, clock)
    breaker.missed("b")
    breaker.missed("d")
    assert breaker.cooling_last(["a", "b", "c", "d", "e"], str) == ["a", "c", "e", "b", "d"]
    clock.now += 5
    assert breaker.cooling_last(["a", "b", "c", "d", "e"], str) == ["a", "b", "c", "d", "e"]


# ------------------------------------------------------------------ gathering with a quorum


async def _after(seconds: float, value: str) -> str:
    await asyncio.sleep(seconds)
    return value


def test_a_silent_peer_is_given_up_on_after_the_grace_and_cancelled() -> None:
    rule = PeerDeadlines(grace_factor=0, grace_min_s=0.2)
    cancelled: list[str] = []

    async def silent() -> str:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append("c")
            raise
        return "never"

    async def go() -> tuple[dict[str, str], list[str], float]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        got = await gather_quorum({"a": _after(0, "A"), "b": _after(0.01, "B"), "c": silent()}, 3600, rule)
        return got.done, got.late, loop.time() - t0

    done, late, took = asyncio.run(go())
    assert done == {"a": "A", "b": "B"} and late == ["c"] and cancelled == ["c"]
    assert took < 30  # the grace, not the hour


def test_without_a_quorum_the_hard_deadline_cuts_off() -> None:
    rule = PeerDeadlines(grace_factor=0, grace_min_s=0)

    async def go() -> tuple[dict[str, str], list[str]]:
        got = await gather_quorum({"a": _after(3600, "A"), "b": _after(3600, "B")}, 0.05, rule)
        return got.done, got.late

    assert asyncio.run(go()) == ({}, ["a", "b"])


def test_a_slower_peer_within_the_grace_is_waited_for() -> None:
    rule = PeerDeadlines(grace_factor=0, grace_min_s=30)

    async def go() -> dict[str, str]:
        got = await gather_quorum({"a": _after(0, "A"), "b": _after(0.05, "B"), "c": _after(0.1, "C")}, 60, rule)
        assert got.late == []
        return got.done

    assert asyncio.run(go()) == {"a": "A", "b": "B", "c": "C"}
