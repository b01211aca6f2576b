from __future__ import annotations

import math

import pytest

from llmnet.errors import InputError
from llmnet.reputation.consensus import (
    ClipRule,
    median,
    median_consensus,
    normalize_score,
    robust_consensus,
    weighted_median,
)


def test_median_over_an_odd_number_of_validators() -> None:
    ratings = {"v1": {"a": 9.0, "b": 1.0}, "v2": {"a": 7.0, "b": 3.0}, "v3": {"a": 2.0, "b": 10.0}}
    assert median_consensus(ratings) == {"a": 7.0, "b": 3.0}


def test_median_over_an_even_number_of_validators_is_the_middle_mean() -> None:
    ratings = {"v1": {"a": 9.0}, "v2": {"a": 6.0}, "v3": {"a": 2.0}, "v4": {"a": 7.0}}
    assert median_consensus(ratings) == {"a": 6.5}


def test_missing_ratings_are_left_out_not_counted_as_zero() -> None:
    ratings = {"v1": {"a": 8.0, "b": 4.0}, "v2": {"a": 6.0}, "v3": {"b": 10.0, "c": 3.0}}
    assert median_consensus(ratings) == {"a": 7.0, "b": 7.0, "c": 3.0}


def test_a_single_outlier_cannot_move_the_median_far() -> None:
    ratings = {f"v{i}": {"a": 8.0} for i in range(4)} | {"liar": {"a": 1.0}}
    assert median_consensus(ratings) == {"a": 8.0}


def test_empty_input_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no ratings"):
        median_consensus({})
    with pytest.raises(InputError, match="no values"):
        median([])
    assert median_consensus({"v1": {}}) == {}


def test_non_finite_scores_are_rejected() -> None:
    with pytest.raises(InputError, match="finite"):
        median_consensus({"v1": {"a": math.nan}})


def test_weighted_median_follows_the_weight() -> None:
    assert weighted_median([1.0, 5.0, 9.0], [1, 1, 5]) == 9.0
    assert weighted_median([1.0, 5.0, 9.0], [5, 1, 1]) == 1.0
    assert weighted_median([9.0, 1.0, 5.0], [1, 3, 1]) == 1.0  # order of input does not matter


def test_weighted_median_with_equal_weights_is_the_plain_median() -> None:
    for values in ([3.0], [4.0, 1.0], [5.0, 2.0, 8.0, 1.0], [1.0, 1.0, 9.0, 9.0, 4.0, 7.0]):
        assert weighted_median(values, [2.0] * len(values)) == median(values)


def test_weighted_median_breaks_an_exact_half_split_by_averaging() -> None:
    assert weighted_median([2.0, 8.0], [3, 3]) == 5.0
    assert weighted_median([2.0, 8.0, 6.0], [4, 1, 3]) == 4.0
    assert weighted_median([2.0, 8.0, 6.0], [4, 1, 3]) == weighted_median([6.0, 2.0, 8.0], [3, 4, 1])


def test_weighted_median_ignores_zero_weights_and_rejects_bad_ones() -> None:
    assert weighted_median([1.0, 7.0, 100.0], [1, 1, 0]) == 4.0
    with pytest.raises(InputError, match="one weight per value"):
        weighted_median([1.0, 2.0], [1])
    with pytest.raises(InputError, match="0 or more"):
        weighted_median([1.0, 2.0], [1, -1])
    with pytest.raises(InputError, match="positive weight"):
        weighted_median([1.0], [0])
    with pytest.raises(InputError, match="positive weight"):
        weighted_median([], [])


def test_stake_weighted_consensus() -> None:
    ratings = {"whale": {"a": 2.0}, "v1": {"a": 9.0}, "v2": {"a": 8.0}, "stranger": {"a": 10.0}}
    stakes = {"whale": 10.0, "v1": 1.0, "v2": 1.0}
    assert median_consensus(ratings, weights=stakes) == {"a": 2.0}
    assert median_consensus(ratings) == {"a": 8.5}


def test_normalize_score() -> None:
    assert normalize_score(1) == 0.0
    assert normalize_score(10) == 1.0
    assert normalize_score(5.5) == 0.5
    assert normalize_score(4) == pytest.approx(1 / 3)
    assert normalize_score(0) == 0.0 and normalize_score(12) == 1.0
    with pytest.raises(InputError):
        normalize_score(math.inf)


# ------------------------------------------------------------- robust consensus
def honest_ratings(n: int, score: float) -> dict[str, dict[str, float]]:
    return {f"h{i}": {"friend": score, "other": 6.0} for i in range(n)}


@pytest.mark.parametrize("colluders", [1, 2, 3, 4])
def test_a_colluding_minority_moves_a_score_by_at_most_its_share_of_the_clip(colluders: int) -> None:
    # 2 * colluders + 1 honest validators: the colluders hold less than a third of the weight
    honest = 2 * colluders + 1
    ratings = honest_ratings(honest, 5.0) | {f"c{i}": {"friend": 10.0, "other": 1.0} for i in range(colluders)}
    weights = dict.fromkeys(ratings, 1.0)
    c = robust_consensus(ratings, weights)
    share = colluders / (honest + colluders)
    assert c.medians["friend"] == 5.0 and c.medians["other"] == 6.0
    assert c.scores["friend"] == pytest.approx(5.0 + share * ClipRule().above)
    assert c.scores["other"] == pytest.approx(6.0 - share * ClipRule().below)
    assert normalize_score(c.scores["friend"]) - normalize_score(5.0) < 0.05
    assert all(c.clipped[f"c{i}"] == 2 for i in range(colluders))
    assert all(c.clipped[f"h{i}"] == 0 for i in range(honest))


def test_agreement_rewards_staying_near_the_median() -> None:
    ratings = {"a": {"x": 7.0}, "b": {"x": 7.0}, "c": {"x": 8.0}, "far": {"x": 1.0}}
    c = robust_consensus(ratings, dict.fromkeys(ratings, 1.0), ClipRule(agreement_scale=3.0))
    assert c.agreement["a"] == c.agreement["b"] == 1.0
    assert c.agreement["c"] == pytest.approx(2 / 3)
    assert c.agreement["far"] == 0.0


def test_weight_decides_the_median_and_zero_weight_alone_falls_back_to_equal_weights() -> None:
    ratings = {"heavy": {"x": 9.0}, "light1": {"x": 2.0}, "light2": {"x": 2.0}}
    c = robust_consensus(ratings, {"heavy": 3.0, "light1": 1.0, "light2": 1.0})
    assert c.medians["x"] == 9.0
    only_unweighted = robust_consensus({"new": {"y": 4.0}}, {"new": 0.0})
    assert only_unweighted.scores == {"y": 4.0}


@pytest.mark.parametrize("bad", [{"above": -1.0}, {"below": float("nan")}, {"agreement_scale": 0.0}])
def test_clip_rule_refuses_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(InputError, match="ClipRule"):
        ClipRule(**bad)


def test_robust_consensus_refuses_bad_input() -> None:
    with pytest.raises(InputError, match="no ratings"):
        robust_consensus({}, {})
    with pytest.raises(InputError, match="finite"):
        robust_consensus({"v": {"x": float("inf")}}, {"v": 1.0})
