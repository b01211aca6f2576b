"""Human rankings as weighted reputation evidence in the settlement plan."""

from __future__ import annotations

import pytest

from llmnet.errors import InputError
from llmnet.reputation.beta import DECAY_ONE, UNIT, RepState, aggregate, apply_update
from llmnet.reputation.human import position_score, ranking_observations
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, plan_settlement

A, B, C = "0xA", "0xB", "0xC"


def task(scores: dict[str, float]) -> TaskOutcome:
    return TaskOutcome(task_id=0, domain="law", fee=10**15, requester="0xR", coordinator="0xCO", scores=scores,
                       validators=("0xV",), receipt_hash="0x" + "11" * 32)  # fmt: skip


def test_positions_score_from_one_down_to_zero() -> None:
    assert [position_score(k, 5) for k in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    with pytest.raises(InputError, match="position 2 is not a place"):
        position_score(2, 2)


def test_ranking_observations_follow_the_ranking_and_carry_its_weight() -> None:
    found = ranking_observations([A, B, C], "law", [1, 2, 0], 0.25)
    assert [(o.provider, o.domain, o.score, o.weight) for o in found] == [
        (B, "law", 1.0, 0.25), (C, "law", 0.5, 0.25), (A, "law", 0.0, 0.25)
    ]  # fmt: skip
    assert ranking_observations([A, B], "law", [0, 1], 0.0) == []
    with pytest.raises(InputError, match="not a permutation"):
        ranking_observations([A, B], "law", [0, 0], 1.0)
    with pytest.raises(InputError, match=r"weight of a ranking must be in \[0, 1\]"):
        ranking_observations([A, B], "law", [0, 1], 1.5)


def test_weight_scales_the_evidence_and_one_is_the_unweighted_rule() -> None:
    decay = 9 * 10**17
    assert aggregate([0.8, 0.3], decay, [1.0, 1.0]) == aggregate([0.8, 0.3], decay)
    half = aggregate([1.0], DECAY_ONE, [0.5])
    assert (half.count, half.successes, half.failures) == (1, UNIT // 2, 0)
    with pytest.raises(ValueError, match="1 weights for 2 scores"):
        aggregate([0.1, 0.2], DECAY_ONE, [1.0])


def test_rankings_join_the_task_updates_of_the_same_batch() -> None:
    decay = 9 * 10**17
    extra = ranking_observations([A, B], "law", [1, 0], 0.5)
    batch = plan_settlement([task({A: 0.6, B: 0.6})], FeeSplit(), decay, extra)
    rep = {u.provider: u.delta for u in batch.updates}
    # the ranking comes after the task's own observation: one more decay step, half the evidence
    assert rep[A] == aggregate([0.6, 0.0], decay, [1.0, 0.5])
    assert rep[B] == aggregate([0.6, 1.0], decay, [1.0, 0.5])
    a, b = (apply_update(RepState(), rep[p], decay, now=1).mean() for p in (A, B))
    assert b > a
    plain = plan_settlement([task({A: 0.6, B: 0.6})], FeeSplit(), decay)
    assert plain.payouts == batch.payouts and plain.receipts_root == batch.receipts_root


def test_a_ranking_of_a_provider_in_another_domain_is_its_own_pair() -> None:
    extra = ranking_observations([A, C], "medicine", [1, 0], 1.0)
    batch = plan_settlement([task({A: 1.0})], FeeSplit(), DECAY_ONE, extra)
    assert sorted((u.provider, u.domain) for u in batch.updates) == [(A, "law"), (A, "medicine"), (C, "medicine")]
