"""The outcome a coordinator hands the settler: every field that decides who is paid is signed."""

from __future__ import annotations

from typing import Any

import pytest

from llmnet.chain.network import dev_account
from llmnet.errors import InputError, SignatureError
from llmnet.roles.outcome import Outcome, TaskRecord, verify_outcome
from llmnet.signing import Rating, Response, SigningDomain, sign
from llmnet.store import content_hash

DOMAIN = SigningDomain(chain_id=31337, verifying_contract="0x" + "ab" * 20)
COORDINATOR, RESPONDENT, VALIDATOR, REQUESTER, STRANGER = (dev_account(i) for i in (8, 1, 6, 9, 3))
KEY = 0x1234


def record(fee: int = 10**13) -> TaskRecord:
    text = "Four."
    response = Response(task_id=KEY, respondent=RESPONDENT.address, content_hash=content_hash(text.encode()),
                        model_id="fake", weights_hash="0x" + "00" * 32, round=0, prompt_tokens=3,
                        completion_tokens=2)  # fmt: skip
    rating = Rating(task_id=KEY, validator=VALIDATOR.address, respondent=RESPONDENT.address,
                    response_hash=response.content_hash, score=800, round=0, epoch=4)  # fmt: skip
    receipt = {"task_key": hex(KEY), "chain_id": DOMAIN.chain_id, "domain": "general", "requester": REQUESTER.address,
               "fee_wei": fee, "prompt_hash": "0x" + "22" * 32, "validators": [VALIDATOR.address],
               "respondents": [{"address": RESPONDENT.address, "failure": None},
                               {"address": STRANGER.address, "failure": "TimeoutError"}]}  # fmt: skip
    signed_response = sign(response, RESPONDENT, DOMAIN).to_dict()
    return TaskRecord.of(receipt, [signed_response], [sign(rating, VALIDATOR, DOMAIN).to_dict()])


def outcome(task_id: int = 7, rec: TaskRecord | None = None, signer: Any = COORDINATOR) -> Outcome:
    rec = rec or record()
    return Outcome(claim=rec.claim(task_id, signer, DOMAIN).to_dict(), record=rec)


def check(o: Outcome) -> Any:
    return verify_outcome(o, DOMAIN, frozenset({COORDINATOR.address}), frozenset({VALIDATOR.address}))


def test_a_verified_outcome_carries_the_claimed_fields() -> None:
    checked = check(outcome(7))
    assert (checked.task_id, checked.task_key, checked.fee, checked.requester) == (7, KEY, 10**13, REQUESTER.address)
    assert checked.failed == (STRANGER.address,)  # from the signed receipt
    assert [r.score for r in checked.ratings] == [8.0]
    assert checked.claim_digest != check(outcome(8)).claim_digest


def test_a_claim_moved_to_another_task_id_is_refused() -> None:
    o = outcome(7).model_dump()
    o["claim"]["message"]["task_id"] = 8
    with pytest.raises(SignatureError):
        check(Outcome.model_validate(o))


def test_an_edited_receipt_is_refused() -> None:
    o = outcome(7).model_dump()
    o["record"]["receipt"]["fee_wei"] = 10**18
    with pytest.raises(SignatureError, match="not the receipt its coordinator signed"):
        check(Outcome.model_validate(o))


def test_a_dropped_rating_is_refused() -> None:
    o = outcome(7).model_dump()
    o["record"]["ratings"] = []
    with pytest.raises(SignatureError, match="not those its coordinator signed"):
        check(Outcome.model_validate(o))


def test_a_claim_from_an_untrusted_coordinator_is_refused() -> None:
    with pytest.raises(SignatureError, match="not one of this service's trusted_coordinators"):
        check(outcome(7, signer=STRANGER))


def test_a_receipt_from_another_chain_is_refused() -> None:
    rec = record()
    other = TaskRecord.of(rec.receipt | {"chain_id": 1}, rec.responses, rec.ratings)
    with pytest.raises(InputError, match="disagrees with its claim"):
        check(outcome(7, other))


def test_a_malformed_receipt_is_an_input_error() -> None:
    rec = record()
    broken = TaskRecord.of({k: v for k, v in rec.receipt.items() if k != "fee_wei"}, rec.responses, rec.ratings)
    with pytest.raises(InputError, match="malformed"):
        broken.claim(7, COORDINATOR, DOMAIN)
