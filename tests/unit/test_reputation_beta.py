"""Properties of the fixed-point Beta reputation rule (no chain).

hypothesis is not installed in this project, so the properties run over a
seeded random sample: the same cases on every run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pytest

from llmnet.reputation.beta import (
    DECAY_ONE,
    MAX48,
    MAX80,
    UNIT,
    RepDelta,
    RepState,
    aggregate,
    aggregate_groups,
    apply_update,
    decay_from_float,
    fp_pow,
    score_to_fixed,
)

CASES = 300


def random_decay(rng: random.Random) -> int:
    return rng.choice([DECAY_ONE, DECAY_ONE - 1, 9 * DECAY_ONE // 10, rng.randint(DECAY_ONE // 2, DECAY_ONE)])


def random_scores(rng: random.Random, m: int) -> list[float]:
    return [rng.choice([0.0, 1.0, 0.5, rng.random()]) for _ in range(m)]


def random_state(rng: random.Random) -> RepState:
    return RepState(rng.randint(0, 10**12), rng.randint(0, 10**12), rng.randint(0, 10**6), rng.randint(0, 2**40))


def exact_update(state: RepState, scores: Sequence[float], decay: int) -> tuple[Fraction, Fraction]:
    """alpha and beta after ``scores`` in exact rational arithmetic (no flooring anywhere)."""
    d = Fraction(decay, DECAY_ONE)
    m = len(scores)
    alpha = state.alpha * d**m
    beta = state.beta * d**m
    for i, score in enumerate(scores):
        s = score_to_fixed(score)
        alpha += s * d ** (m - 1 - i)
        beta += (UNIT - s) * d ** (m - 1 - i)
    return alpha, beta


# ------------------------------------------------------------------ fp_pow


def test_fp_pow_identities() -> None:
    rng = random.Random(1)
    for _ in range(CASES):
        x = rng.randint(0, DECAY_ONE)
        n = rng.randint(1, 10_000)
        assert fp_pow(x, 0) == DECAY_ONE
        assert fp_pow(x, 1) == x
        assert fp_pow(DECAY_ONE, n) == DECAY_ONE
        assert fp_pow(0, n) == 0


def test_fp_pow_floors_below_the_exact_power_by_at_most_n_units() -> None:
    """Squaring doubles an error already in the base, so after k squarings the base is off by under
    2**k units, and 2**k never exceeds the exponent it stands for: the total stays within n + 64."""
    rng = random.Random(2)
    for _ in range(CASES):
        x = rng.randint(DECAY_ONE // 2, DECAY_ONE)
        n = rng.randint(0, 2_000)
        got = fp_pow(x, n)
        if n == 0:
            assert got == DECAY_ONE
            continue
        scale = DECAY_ONE ** (n - 1)  # exact = x**n / scale; compare in integers, Fraction is slow here
        assert 0 <= x**n - got * scale <= (n + 64) * scale, (x, n)


def test_fp_pow_is_monotone() -> None:
    rng = random.Random(3)
    for _ in range(CASES // 3):
        x = rng.randint(DECAY_ONE // 2, DECAY_ONE - 1)
        powers = [fp_pow(x, n) for n in range(0, 200)]
        assert powers == sorted(powers, reverse=True), x
        y = rng.randint(x, DECAY_ONE)
        n = rng.randint(0, 500)
        assert fp_pow(x, n) <= fp_pow(y, n)


def test_fp_pow_tracks_float_power() -> None:
    for x, n in [(9 * DECAY_ONE // 10, 10), (99 * DECAY_ONE // 100, 500), (DECAY_ONE // 2, 60)]:
        assert fp_pow(x, n) / DECAY_ONE == pytest.approx((x / DECAY_ONE) ** n, rel=1e-12)


# ------------------------------------------------------------------ conversions


def test_decay_from_float() -> None:
    assert decay_from_float(0.9) == 9 * DECAY_ONE // 10
    assert decay_from_float(1.0) == DECAY_ONE
    assert decay_from_float(1e-18) == 1
    for bad in (0.0, -0.1, 1.0000001, math.nan):
        with pytest.raises(ValueError):
            decay_from_float(bad)


def test_score_to_fixed() -> None:
    assert score_to_fixed(0.0) == 0
    assert score_to_fixed(1.0) == UNIT
    assert score_to_fixed(0.5) == UNIT // 2
    assert score_to_fixed(1 / 3) == 333_333_333
    for bad in (-1e-9, 1.000001, math.nan, math.inf):
        with pytest.raises(ValueError):
            score_to_fixed(bad)


# ------------------------------------------------------------------ aggregate


def test_aggregate_of_nothing_is_a_no_op() -> None:
    assert aggregate([], 9 * DECAY_ONE // 10) == RepDelta(0, 0, 0)
    state = RepState(5 * UNIT, 2 * UNIT, 7, 100)
    assert apply_update(state, aggregate([], 9 * DECAY_ONE // 10), 9 * DECAY_ONE // 10, 200) == RepState(
        5 * UNIT, 2 * UNIT, 7, 200
    )


def test_aggregate_of_one_score_is_that_score() -> None:
    rng = random.Random(4)
    for _ in range(CASES):
        score = rng.random()
        s = score_to_fixed(score)
        assert aggregate([score], random_decay(rng)) == RepDelta(1, s, UNIT - s)


def test_aggregate_without_decay_is_a_plain_sum() -> None:
    rng = random.Random(5)
    for _ in range(CASES):
        scores = random_scores(rng, rng.randint(0, 50))
        delta = aggregate(scores, DECAY_ONE)
        fixed = [score_to_fixed(s) for s in scores]
        assert delta == RepDelta(len(scores), sum(fixed), sum(UNIT - s for s in fixed))
        assert delta.successes + delta.failures == len(scores) * UNIT


def test_aggregate_bounds_and_recency() -> None:
    rng = random.Random(6)
    for _ in range(CASES):
        decay = random_decay(rng)
        scores = random_scores(rng, rng.randint(1, 60))
        delta = aggregate(scores, decay)
        assert delta.count == len(scores)
        weight = sum(fp_pow(decay, k) for k in range(len(scores)))  # in units of 1e-18
        assert 0 <= delta.successes + delta.failures <= weight * UNIT // DECAY_ONE
        assert weight * UNIT // DECAY_ONE - (delta.successes + delta.failures) <= 2 * len(scores)
    decay = 9 * DECAY_ONE // 10
    assert aggregate([1.0, 0.0], decay).successes < aggregate([0.0, 1.0], decay).successes  # newer counts more
    assert aggregate([1.0] * 10, decay).failures == 0
    assert aggregate([0.0] * 10, decay).successes == 0


def test_aggregate_rejects_bad_scores() -> None:
    for bad in ([0.5, 1.5], [-0.5], [math.nan]):
        with pytest.raises(ValueError):
            aggregate(bad, DECAY_ONE)


# ------------------------------------------------------------------ apply_update


def test_apply_update_follows_the_formula() -> None:
    rng = random.Random(7)
    for _ in range(CASES):
        decay = random_decay(rng)
        state = random_state(rng)
        delta = aggregate(random_scores(rng, rng.randint(0, 30)), decay)
        now = rng.randint(0, MAX48)
        factor = fp_pow(decay, delta.count)
        assert apply_update(state, delta, decay, now) == RepState(
            alpha=state.alpha * factor // DECAY_ONE + delta.successes,
            beta=state.beta * factor // DECAY_ONE + delta.failures,
            count=state.count + delta.count,
            updated_at=now,
        )


def test_one_aggregated_update_equals_m_sequential_ones_within_m_units() -> None:
    """Each floor loses under one unit (1e-9): m single updates floor the carried state m times,
    one aggregated update floors once per term. Both stay below the exact rational result by less
    than m + 1 units, so they differ from each other by at most m units."""
    rng = random.Random(8)
    worst = 0
    for _ in range(CASES):
        decay = random_decay(rng)
        start = random_state(rng)
        scores = random_scores(rng, rng.randint(1, 40))
        m = len(scores)
        once = apply_update(start, aggregate(scores, decay), decay, 1)
        step = start
        for s in scores:
            step = apply_update(step, aggregate([s], decay), decay, 1)
        assert once.count == step.count == start.count + m
        assert abs(once.alpha - step.alpha) <= m
        assert abs(once.beta - step.beta) <= m
        exact_alpha, exact_beta = exact_update(start, scores, decay)
        for got in (once, step):
            assert 0 <= exact_alpha - got.alpha < m + 1
            assert 0 <= exact_beta - got.beta < m + 1
        worst = max(worst, abs(once.alpha - step.alpha), abs(once.beta - step.beta))
    assert worst > 0  # the rounding is real: the tolerance is needed, not decoration


def test_without_decay_aggregation_is_exact() -> None:
    rng = random.Random(9)
    for _ in range(CASES // 3):
        start = random_state(rng)
        scores = random_scores(rng, rng.randint(1, 30))
        once = apply_update(start, aggregate(scores, DECAY_ONE), DECAY_ONE, 1)
        step = start
        for s in scores:
            step = apply_update(step, aggregate([s], DECAY_ONE), DECAY_ONE, 1)
        assert once == step


def test_apply_update_bounds() -> None:
    decay = 9 * DECAY_ONE // 10
    top = apply_update(RepState(), RepDelta(1, MAX80, MAX80), decay, 1)
    assert top == RepState(MAX80, MAX80, 1, 1)
    assert apply_update(RepState(count=MAX48 - 1), RepDelta(1, 0, 0), decay, 1).count == MAX48
    for delta in (RepDelta(0, MAX80 + 1, 0), RepDelta(0, 0, MAX80 + 1), RepDelta(MAX48 + 1, 0, 0)):
        with pytest.raises(OverflowError):
            apply_update(RepState(), delta, decay, 1)
    with pytest.raises(OverflowError):
        apply_update(top, RepDelta(1, MAX80, 0), decay, 2)  # decayed MAX80 plus MAX80 again


# ------------------------------------------------------------------ mean


def test_mean_is_the_beta_posterior_mean() -> None:
    assert RepState().mean() == 0.5
    assert RepState().mean(prior_alpha=2.0, prior_beta=1.0) == pytest.approx(2 / 3)
    assert RepState(alpha=3 * UNIT, beta=UNIT).mean() == pytest.approx(4 / 6)
    assert RepState(alpha=UNIT // 2, beta=0).mean() == pytest.approx(1.5 / 2.5)


def test_mean_stays_in_the_unit_interval_and_moves_with_evidence() -> None:
    rng = random.Random(10)
    for _ in range(CASES):
        state = RepState(rng.randint(0, 10**18), rng.randint(0, 10**18))
        assert 0.0 < state.mean() < 1.0
        assert 0.0 <= RepState(rng.randint(0, MAX80), rng.randint(0, MAX80)).mean() <= 1.0
        more_success = RepState(state.alpha + UNIT, state.beta)
        more_failure = RepState(state.alpha, state.beta + UNIT)
        assert more_failure.mean() <= state.mean() <= more_success.mean()
    assert RepState(alpha=10**6 * UNIT).mean() > 0.999
    assert RepState(beta=10**6 * UNIT).mean() < 0.001


def _contract_fold(scores: list[float], decay: int, weights: list[float]) -> tuple[int, int]:
    """The contract's rule in Python integers, one observation at a time (the reference)."""
    successes = failures = 0
    for i, (score, weight) in enumerate(zip(scores, weights, strict=True)):
        factor = fp_pow(decay, len(scores) - 1 - i)
        s, share = round(score * 10**9), round(weight * 10**9)
        successes += s * share // 10**9 * factor // DECAY_ONE
        failures += (10**9 - s) * share // 10**9 * factor // DECAY_ONE
    return successes, failures


def test_aggregate_groups_equals_the_contracts_fold_on_random_pairs() -> None:
    rng = np.random.default_rng(11)
    for decay in (DECAY_ONE, 98 * DECAY_ONE // 100, 123_456_789_012_345_678, 1):
        group = rng.integers(0, 40, 600).astype(np.intp)
        group = np.unique(group, return_inverse=True)[1].astype(np.intp)  # every pair observed
        scores = np.where(rng.random(600) < 0.2, rng.choice([0.0, 1.0], 600), rng.random(600))
        weights = np.where(rng.random(600) < 0.5, 1.0, rng.random(600))
        count, successes, failures = aggregate_groups(group, scores, weights, decay)
        for g in range(int(group.max()) + 1):
            mine = group == g
            want = _contract_fold(scores[mine].tolist(), decay, weights[mine].tolist())
            assert (int(count[g]), int(successes[g]), int(failures[g])) == (int(mine.sum()), *want)
            assert aggregate(scores[mine].tolist(), decay, weights[mine].tolist()) == RepDelta(int(mine.sum()), *want)


def test_aggregate_refuses_a_score_outside_0_1() -> None:
    with pytest.raises(ValueError, match=r"score must be in \[0, 1\], got 1.5"):
        aggregate([0.5, 1.5], DECAY_ONE)
