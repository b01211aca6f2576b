"""A validator rates only what a trusted coordinator assigned to it, for registered respondents' answers,
and each assignment once. A refused request runs no judge and adds nothing to the commit-reveal log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from llmnet.chain.network import dev_account
from llmnet.errors import ConfigError, InputError, LlmnetError, SignatureError
from llmnet.roles.epochs import RatingLog
from llmnet.roles.judge import FakeJudge
from llmnet.roles.protocol import RatedAnswer, RateRequest
from llmnet.roles.rating_gate import RatingGate, RegisteredProviders
from llmnet.roles.replay import MAX_DEADLINE_AHEAD_S, ReplayGuard
from llmnet.roles.validator import Rater
from llmnet.signing import Rating, RatingAssignment, Response, SignedMessage, SigningDomain, sign, verify
from llmnet.store import content_hash

SIGNING = SigningDomain(chain_id=1337, verifying_contract="0x5FbDB2315678afecb367f032d93F642f64180aa3")
COORDINATOR, STRANGER = dev_account(8), dev_account(3)
RESPONDENTS = (dev_account(1), dev_account(2))
UNREGISTERED = dev_account(4)
VALIDATOR, OTHER_VALIDATOR = dev_account(6), dev_account(7)
TASK = 77


class FixedEpoch:
    def epoch(self) -> int:
        return 5


def answer(respondent: LocalAccount, text: str, task_id: int = TASK) -> RatedAnswer:
    response = Response(task_id=task_id, respondent=respondent.address, content_hash=content_hash(text.encode()),
                        model_id="fake", weights_hash="0x" + "00" * 32, round=0, prompt_tokens=3,
                        completion_tokens=4)  # fmt: skip
    return RatedAnswer(respondent=respondent.address, text=text, response=sign(response, respondent, SIGNING).to_dict())


def unsigned_request(answers: list[RatedAnswer] | None = None) -> RateRequest:
    answers = answers or [answer(r, f"Paris, says {i}.") for i, r in enumerate(RESPONDENTS)]
    return RateRequest(task_id=TASK, question="Capital of France?", answers=answers, reference="Paris")


def assigned(req: RateRequest, *, signer: LocalAccount = COORDINATOR, validator: str = VALIDATOR.address,
             deadline_in: float = 60, content: str | None = None) -> RateRequest:  # fmt: skip
    a = RatingAssignment(task_id=req.task_id, coordinator=signer.address, validator=validator,
                         content_hash=content or req.digest(), round=req.round,
                         deadline=int(time.time() + deadline_in))  # fmt: skip
    return req.model_copy(update={"assignment": sign(a, signer, SIGNING).to_dict()})


class Validator:
    """A Rater behind its gate, with a real commit-reveal log and a judge that records its calls."""

    def __init__(self, path: Path) -> None:
        self.judge, self.log = FakeJudge(default=7), RatingLog(path / "ratings.sqlite")
        registered = {r.address for r in RESPONDENTS}
        gate = RatingGate(VALIDATOR.address, SIGNING, frozenset({COORDINATOR.address}),
                          RegisteredProviders(registered.__contains__))  # fmt: skip
        self.rater = Rater(self.judge, VALIDATOR, SIGNING, self.log, FixedEpoch(), gate=gate)  # type: ignore[arg-type]

    def refused(self, req: RateRequest, error: type[LlmnetError], match: str) -> None:
        before = self.log.digests(5)
        with pytest.raises(error, match=match):
            self.rater.rate(req)
        assert self.judge.calls == [] and self.log.digests(5) == before


@pytest.fixture
def validator(tmp_path: Path) -> Iterator[Validator]:
    yield Validator(tmp_path)


def test_an_assigned_request_is_rated_signed_and_logged(validator: Validator) -> None:
    reply = validator.rater.rate(assigned(unsigned_request()))

    ratings = [SignedMessage.from_dict(r, Rating) for r in reply.ratings]
    assert [verify(r, SIGNING) for r in ratings] == [VALIDATOR.address] * 2
    assert {r.message.respondent for r in ratings} == {r.address for r in RESPONDENTS}
    assert len(validator.judge.calls) == 1 and len(validator.log.digests(5)) == 2


def test_a_request_without_an_assignment_is_refused(validator: Validator) -> None:
    validator.refused(unsigned_request(), SignatureError, "must carry a RatingAssignment")


def test_an_assignment_signed_by_an_untrusted_key_is_refused(validator: Validator) -> None:
    refusal = "not one of this service.s trusted_coordinators"
    validator.refused(assigned(unsigned_request(), signer=STRANGER), SignatureError, refusal)


def test_an_assignment_with_a_forged_signer_is_refused(validator: Validator) -> None:
    req = assigned(unsigned_request(), signer=STRANGER)
    forged = dict(req.assignment, signer=COORDINATOR.address)
    forged["message"] = dict(forged["message"], coordinator=COORDINATOR.address)
    validator.refused(req.model_copy(update={"assignment": forged}), SignatureError, "not the claimed signer")


def test_an_assignment_for_another_validator_is_refused(validator: Validator) -> None:
    req = assigned(unsigned_request(), validator=OTHER_VALIDATOR.address)
    validator.refused(req, SignatureError, "addressed to .* not to this validator")


def test_an_expired_assignment_is_refused(validator: Validator) -> None:
    validator.refused(assigned(unsigned_request(), deadline_in=-5), InputError, "has passed")


def test_an_assignment_due_too_far_ahead_is_refused(validator: Validator) -> None:
    req = assigned(unsigned_request(), deadline_in=MAX_DEADLINE_AHEAD_S + 120)
    validator.refused(req, InputError, "ahead; at most 900 s")


def test_a_replayed_assignment_is_refused(validator: Validator) -> None:
    req = assigned(unsigned_request())
    validator.rater.rate(req)
    validator.judge.calls.clear()
    validator.refused(req, InputError, "accepted before: a replayed message is refused")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"question": "Capital of Spain?"}, "does not match its assignment's content hash"),
        ({"reference": "Madrid"}, "does not match its assignment's content hash"),
        ({"round": 1}, "assignment is for task 77 round 0, the request for task 77 round 1"),
        ({"task_id": 78}, "assignment is for task 77 round 0, the request for task 78 round 0"),
        ({"domain": "law"}, "content hash"),  # the domain a judge checks answers against is signed too
    ],
)
def test_a_request_altered_after_its_assignment_was_signed_is_refused(
    validator: Validator, change: dict[str, Any], match: str
) -> None:
    req = assigned(unsigned_request()).model_copy(update=change)
    validator.refused(req, InputError, match)


def test_an_answer_dropped_after_signing_is_refused(validator: Validator) -> None:
    req = assigned(unsigned_request())
    validator.refused(req.model_copy(update={"answers": req.answers[:1]}), InputError, "content hash")


def test_an_answer_from_an_unregistered_respondent_is_refused(validator: Validator) -> None:
    answers = [answer(RESPONDENTS[0], "Paris."), answer(UNREGISTERED, "Lyon.")]
    req = assigned(unsigned_request(answers))
    validator.refused(req, SignatureError, f"{UNREGISTERED.address}, which is not a registered respondent")


def test_a_response_signed_for_another_task_is_refused(validator: Validator) -> None:
    req = assigned(unsigned_request([answer(RESPONDENTS[0], "Paris.", task_id=TASK + 1)]))
    validator.refused(req, InputError, "for task 78, not for the assigned task 77")


def test_a_response_signed_by_another_key_than_its_respondent_is_refused(validator: Validator) -> None:
    stolen = answer(RESPONDENTS[0], "Paris.").model_copy(update={"respondent": RESPONDENTS[1].address})
    validator.refused(assigned(unsigned_request([stolen])), SignatureError, "was signed by")


def test_a_refused_request_does_not_use_up_its_assignment(validator: Validator) -> None:
    """The replay memory records an assignment only once every check passed."""
    ok = assigned(unsigned_request())
    validator.refused(ok.model_copy(update={"reference": "Madrid"}), InputError, "does not match")
    assert len(validator.rater.rate(ok).ratings) == 2


def test_registrations_are_read_once_per_ttl() -> None:
    reads: list[str] = []
    now = [0.0]
    providers = RegisteredProviders(lambda a: reads.append(a) or a == "0xA", ttl_s=30, clock=lambda: now[0])
    providers.require("0xA")
    providers.require("0xA")
    with pytest.raises(SignatureError):
        providers.require("0xB")
    now[0] = 5.0  # an unknown address is read again sooner (it may have registered since)
    with pytest.raises(SignatureError):
        providers.require("0xB")
    providers.require("0xA")
    now[0] = 31.0
    providers.require("0xA")
    assert reads == ["0xA", "0xB", "0xB", "0xA"]


def test_the_gate_must_be_the_raters_own(tmp_path: Path) -> None:
    gate = RatingGate(OTHER_VALIDATOR.address, SIGNING, frozenset(), RegisteredProviders(lambda _: True))
    with pytest.raises(ConfigError, match="admits requests for"):
        Rater(FakeJudge(), VALIDATOR, SIGNING, gate=gate)


def test_a_full_replay_memory_refuses_new_work_rather_than_forget(tmp_path: Path) -> None:
    v = Validator(tmp_path)
    v.rater.gate.replays = ReplayGuard(capacity=1)
    v.rater.rate(assigned(unsigned_request()))
    v.judge.calls.clear()
    second = unsigned_request([answer(RESPONDENTS[0], "Paris, again.")])
    with pytest.raises(LlmnetError, match="the most this service remembers"):
        v.rater.rate(assigned(second))
    assert v.judge.calls == []
