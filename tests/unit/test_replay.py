"""A signed message is accepted once: the replay memory, and a respondent refusing a replayed assignment."""

from __future__ import annotations

import time

import pytest

from llmnet.backends.fake import FakeBackend
from llmnet.chain.network import dev_account
from llmnet.errors import BackendRateLimited, InputError
from llmnet.roles.protocol import Message, RespondPayload, RespondRequest
from llmnet.roles.replay import ReplayGuard
from llmnet.roles.respondent import Respondent
from llmnet.signing import SigningDomain, TaskAssignment, sign

SIGNING = SigningDomain(chain_id=1337, verifying_contract="0x5FbDB2315678afecb367f032d93F642f64180aa3")
COORDINATOR, RESPONDENT = dev_account(8), dev_account(1)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_digest_is_refused_until_its_deadline_then_forgotten() -> None:
    clock = Clock()
    guard = ReplayGuard(capacity=10, max_ahead_s=60, clock=clock)
    guard.admit("0x01", deadline=1_030)
    with pytest.raises(InputError, match="0x01 was accepted before"):
        guard.admit("0x01", deadline=1_030)
    guard.admit("0x02", deadline=1_050)
    clock.now = 1_031
    with pytest.raises(InputError, match="has passed"):  # after its deadline the deadline check refuses it
        guard.admit("0x01", deadline=1_030)
    guard.admit("0x03", deadline=1_060)
    assert len(guard) == 2  # 0x01 forgotten once expired


def test_a_deadline_too_far_ahead_is_refused_so_the_memory_stays_bounded() -> None:
    guard = ReplayGuard(capacity=10, max_ahead_s=60, clock=Clock())
    with pytest.raises(InputError, match="at most 60 s"):
        guard.admit("0x01", deadline=1_061)
    assert len(guard) == 0


def test_a_full_memory_refuses_new_digests_and_keeps_the_live_ones() -> None:
    clock = Clock()
    guard = ReplayGuard(capacity=2, max_ahead_s=60, clock=clock)
    guard.admit("0x01", deadline=1_020)
    guard.admit("0x02", deadline=1_040)
    with pytest.raises(BackendRateLimited, match="retry in 20 s") as refused:
        guard.admit("0x03", deadline=1_040)
    assert refused.value.retry_after == 20
    with pytest.raises(InputError, match="accepted before"):  # nothing live was forgotten to make room
        guard.admit("0x01", deadline=1_020)
    clock.now = 1_021
    guard.admit("0x03", deadline=1_040)  # room again once the earliest expired


def test_a_guard_needs_a_bounded_window() -> None:
    with pytest.raises(InputError, match="finite max_ahead_s"):
        ReplayGuard(max_ahead_s=float("inf"))


def request(deadline_in: float = 60) -> RespondRequest:
    payload = RespondPayload(messages=[Message(role="user", content="Capital of France?")])
    a = TaskAssignment(task_id=9, coordinator=COORDINATOR.address, respondent=RESPONDENT.address,
                       content_hash=payload.digest(), round=0, deadline=int(time.time() + deadline_in))  # fmt: skip
    return RespondRequest(assignment=sign(a, COORDINATOR, SIGNING).to_dict(), payload=payload)


def respondent() -> Respondent:
    backend = FakeBackend(lambda _: "Paris.", model_id="fake")
    return Respondent(backend, RESPONDENT, SIGNING, frozenset({COORDINATOR.address}))


def test_a_respondent_refuses_a_replayed_assignment_before_generating() -> None:
    r, req = respondent(), request()
    assert r.respond(req).text == "Paris."
    with pytest.raises(InputError, match="accepted before: a replayed message is refused"):
        r.respond(req)
    with pytest.raises(InputError, match="accepted before"):
        r.check(req.model_copy(update={"stream": True}))  # streaming or not, one assignment is one answer
    assert len(r.backend.requests) == 1  # type: ignore[attr-defined]


def test_a_respondent_refuses_an_assignment_due_too_far_ahead() -> None:
    r = respondent()
    with pytest.raises(InputError, match="ahead; at most 900 s"):
        r.respond(request(deadline_in=3_600))
    assert r.backend.requests == []  # type: ignore[attr-defined]


def test_a_respondent_that_refused_a_mismatched_payload_still_takes_the_real_one() -> None:
    r, req = respondent(), request()
    other = req.payload.model_copy(update={"max_tokens": 7})
    with pytest.raises(InputError, match="does not match"):
        r.respond(req.model_copy(update={"payload": other}))
    assert r.respond(req).text == "Paris."
