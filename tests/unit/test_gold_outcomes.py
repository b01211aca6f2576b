"""Gold tasks at settlement: respondents are scored by the truth, validators measured against it."""

from __future__ import annotations

import pytest

from llmnet.reputation.consensus import normalize_score
from llmnet.reputation.trust import TrustRule, update_trust
from llmnet.roles.outcome import CheckedOutcome, CheckedRating, score_outcome

GOLD = {"0xgood": 9.0, "0xbad": 2.0}


def outcome(ratings: list[CheckedRating], gold: dict[str, float] | None) -> CheckedOutcome:
    return CheckedOutcome(
        task_id=7,
        task_key=7,
        domain="general",
        fee=1000,
        requester="0xC",
        coordinator="0xC",
        receipt_hash="0x" + "11" * 32,
        claim_digest="",
        failed=(),
        ratings=tuple(ratings),
        gold=gold,
    )


def rating(validator: str, respondent: str, score: float) -> CheckedRating:
    return CheckedRating(validator=validator, respondent=respondent, score=score, epoch=0, digest="0x" + "22" * 32)


RATINGS = [
    rating("honest", "0xgood", 9.0), rating("honest", "0xbad", 2.5),
    rating("random", "0xgood", 2.0), rating("random", "0xbad", 9.0),
    rating("lazy", "0xgood", 5.0), rating("lazy", "0xbad", 5.0),
]  # fmt: skip
WEIGHTS = {"honest": 1.0, "random": 1.0, "lazy": 1.0}


def test_a_gold_task_scores_respondents_by_the_truth_and_validators_against_it() -> None:
    settled = score_outcome(outcome(RATINGS, GOLD), RATINGS, WEIGHTS)
    assert settled.gold
    assert settled.scores == {"0xgood": normalize_score(9.0), "0xbad": normalize_score(2.0)}
    assert settled.agreement["honest"] == pytest.approx(1 - 0.5 / 3 / 2)
    assert settled.agreement["random"] == 0.0
    assert settled.agreement["lazy"] == pytest.approx(0.0)  # 4 and 3 points off: past the scale
    # pay on a gold task follows accuracy: the random validator earns nothing from it
    assert settled.validator_weights["random"] == 0.0 < settled.validator_weights["honest"]


def test_without_gold_the_same_ratings_go_through_clipped_consensus() -> None:
    settled = score_outcome(outcome(RATINGS, None), RATINGS, WEIGHTS)
    assert not settled.gold
    assert settled.scores["0xgood"] != normalize_score(9.0)  # the median of 9, 2, 5 is 5


def test_gold_evidence_moves_trust_three_times_as_far() -> None:
    rule = TrustRule()
    ordinary = update_trust(0.5, 0.0, rule)
    gold = update_trust(0.5, 0.0, rule, gold=True)
    assert gold < ordinary < 0.5
