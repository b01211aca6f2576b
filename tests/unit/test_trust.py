from __future__ import annotations

import numpy as np
import pytest

from llmnet.errors import InputError
from llmnet.reputation.consensus import leave_one_out_medians
from llmnet.reputation.trust import (
    GOLD,
    ORDINARY,
    EvidenceRule,
    TrustRule,
    batch_evidence,
    chance_closeness,
    closeness,
    fold_trust,
    pay_shares,
    update_trust,
    validator_weights,
)

RULE = TrustRule()


def converge(trust: float, evidence: float, n: int, *, gold: bool = False) -> float:
    for _ in range(n):
        trust = update_trust(trust, evidence, RULE, gold=gold)
    return trust


def test_trust_moves_towards_the_evidence_and_stays_in_range() -> None:
    assert converge(RULE.initial, 1.0, 50) == pytest.approx(1.0, abs=0.01)
    assert converge(RULE.initial, 0.0, 50) == pytest.approx(0.0, abs=0.01)
    assert 0.0 <= converge(0.3, 0.7, 3) <= 1.0


def test_one_gold_observation_weighs_as_much_as_gold_weight_ordinary_ones() -> None:
    ordinary = converge(0.9, 0.0, 3)
    assert update_trust(0.9, 0.0, RULE, gold=True) == pytest.approx(ordinary)


def test_stake_times_squared_trust_and_pay_in_proportion() -> None:
    weights = validator_weights({"a": 4 * 10**18, "b": 10**18, "new": 10**18}, {"a": 0.5, "b": 1.0}, RULE)
    assert weights == {"a": 1.0, "b": 1.0, "new": RULE.initial**2}
    shares = pay_shares(900, weights)
    assert sum(shares.values()) == 900
    assert shares["new"] == 100 and abs(shares["a"] - shares["b"]) <= 1
    assert pay_shares(100, {"x": 0.0}) == {}
    linear = validator_weights({"a": 10**18}, {"a": 0.5}, TrustRule(power=1.0))
    assert linear == {"a": 0.5}


def test_a_random_rater_keeps_little_say_against_honest_validators() -> None:
    # rating uniformly at random on 1-10 against a consensus of 8, a validator's agreement
    # averages 0.3 (see ClipRule.agreement); honest validators average about 0.9
    random_trust, honest_trust = converge(RULE.initial, 0.3, 100), converge(RULE.initial, 0.9, 100)
    stakes = {f"honest-{i}": 10**18 for i in range(6)} | {"random": 10**18}
    trust = dict.fromkeys(stakes, honest_trust) | {"random": random_trust}
    weights = validator_weights(stakes, trust, RULE)
    share = weights["random"] / sum(weights.values())
    linear = validator_weights(stakes, trust, TrustRule(power=1.0))
    assert share < 0.05 < linear["random"] / sum(linear.values())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate": 0.0}, "rate"),
        ({"initial": 1.5}, "initial"),
        ({"gold_weight": 0.5}, "gold_weight"),
        ({"power": 0.0}, "power"),
        ({"power": float("nan")}, "power"),
    ],
)
def test_trust_rule_refuses_nonsense(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InputError, match=match):
        TrustRule(**kwargs)


def test_update_refuses_evidence_outside_the_unit_interval() -> None:
    with pytest.raises(InputError, match="must lie in"):
        update_trust(0.5, 1.5, RULE)
    with pytest.raises(InputError, match="negative pool"):
        pay_shares(-1, {"a": 1.0})


EVIDENCE = EvidenceRule()
KINDS = ("honest", "honest", "honest", "honest", "random", "constant", "copy")


def rate(kind: str, quality: np.ndarray, provider_mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One validator's 1-10 ratings of answers of true ``quality`` (1-10)."""
    if kind == "honest":
        return np.clip(quality + rng.normal(0, 0.8, quality.shape), 1, 10)  # noisy, unbiased
    if kind == "random":
        return rng.uniform(1, 10, quality.shape)
    if kind == "constant":
        return np.full(quality.shape, 8.0)
    return provider_mean  # copies each respondent's reputation, not the answer in front of it


def run_batches(batches: int, spread: float, rng: np.random.Generator, trust: np.ndarray | None = None,
                tasks: int = 20, k: int = 2) -> np.ndarray:  # fmt: skip
    """Trust after ``batches`` settlement batches; answers' quality varies by ``spread`` points around 7."""
    trust = np.full(len(KINDS), TrustRule().initial) if trust is None else trust.copy()
    stake = np.ones(len(KINDS))
    for _ in range(batches):
        provider_mean = rng.uniform(7 - spread, 7 + spread, k)  # each respondent's usual quality
        quality = np.clip(provider_mean + rng.normal(0, spread, (tasks, k)), 1, 10)
        ratings = np.stack([rate(kind, quality, np.broadcast_to(provider_mean, quality.shape), rng)
                            for kind in KINDS], axis=-1)  # fmt: skip
        weight = stake * trust**2
        others = leave_one_out_medians(ratings.reshape(-1, len(KINDS)), weight)  # as rating_arrays measures
        n = ratings.size
        rater = np.tile(np.arange(len(KINDS)), n // len(KINDS))
        task = np.repeat(np.arange(tasks), k * len(KINDS))
        found = batch_evidence(rater, ratings.ravel(), others.ravel(), task, np.zeros(n, bool), weight, EVIDENCE)
        for v in range(len(KINDS)):
            if found.counts[v, ORDINARY] > 0:
                trust[v] = fold_trust(float(trust[v]), [float(found.evidence[v, ORDINARY])], [False], TrustRule(),
                                      [float(found.counts[v, ORDINARY])])  # fmt: skip
    return trust


def test_ratings_that_carry_no_information_lose_their_trust() -> None:
    final = run_batches(30, 2.0, np.random.default_rng(0))
    assert min(final[:4]) > 0.9  # honest, with 0.8 points of noise
    assert final[4] < 0.1 and final[5] < 0.1  # random, constant: from the initial 0.5 towards 0
    assert final[6] < min(final[:4])  # copying reputation earns less than judging


def test_honest_validators_keep_their_trust_when_all_answers_are_alike() -> None:
    rng = np.random.default_rng(1)
    start = run_batches(20, 2.0, rng)
    after = run_batches(30, 0.05, rng, start)  # every answer about as good as the others
    assert min(after[:4]) > 0.8
    assert np.allclose(after[:4], start[:4], atol=0.15)


def test_a_lucky_small_batch_of_guesses_earns_little() -> None:
    rng = np.random.default_rng(2)
    random_trust = [run_batches(10, 2.0, rng, tasks=3)[4] for _ in range(10)]
    assert float(np.mean(random_trust)) < 0.15


def test_chance_closeness_is_the_mean_over_the_other_targets() -> None:
    rng = np.random.default_rng(3)
    group = rng.integers(0, 3, 60).astype(np.intp)
    rating, target = rng.uniform(1, 10, 60), rng.uniform(1, 10, 60)
    got = chance_closeness(group, rating, target, 3.0)
    for i in range(60):
        others = np.flatnonzero((group == group[i]) & (np.arange(60) != i))
        assert got[i] == pytest.approx(closeness(np.full(len(others), rating[i]), target[others], 3.0).mean())
    assert np.isnan(chance_closeness(np.array([0, 1, 1], np.intp), np.ones(3), np.ones(3), 3.0)[0])


def test_gold_evidence_is_kept_apart_and_nothing_measured_gives_nothing() -> None:
    rating = np.array([2.0, 9.0, 2.0, 9.0, 5.0, 5.0, 5.0, 5.0, 2.0, 9.0, 2.0, 9.0])
    target = np.array([2.0, 9.0, 2.0, 9.0] * 3)
    rater = np.repeat(np.arange(3), 4).astype(np.intp)  # 0 and 2 on the targets, 1 always says 5
    gold = np.array([False, False, True, True] * 3)
    task = np.array([0, 0, 1, 1] * 3, np.intp)
    found = batch_evidence(rater, rating, target, task, gold, np.ones(3), EVIDENCE)
    assert found.evidence[0, ORDINARY] == found.evidence[0, GOLD] == 1.0
    assert found.evidence[1, ORDINARY] == found.evidence[1, GOLD] == 0.0
    assert found.counts[0].tolist() == [1.0, 1.0]  # one task of each kind
    # each rater is measured against the others: with only the constant rater beside it, the
    # good one's consensus evidence says nothing, and gold falls back to accuracy against the truth
    pair = batch_evidence(rater[:8], rating[:8], target[:8], task[:8], gold[:8], np.ones(2), EVIDENCE)
    assert np.isnan(pair.evidence[0, ORDINARY]) and pair.counts[0, ORDINARY] == 0.0
    assert pair.evidence[0, GOLD] == 1.0 and pair.evidence[1, ORDINARY] == pair.evidence[1, GOLD] == 0.0
    empty = batch_evidence(*(np.zeros(0, t) for t in (np.intp, float, float, np.intp, bool)), np.ones(2), EVIDENCE)
    assert np.isnan(empty.evidence).all() and not empty.counts.any()


def test_a_rater_is_measured_against_the_median_of_the_others() -> None:
    ratings = np.array([[2.0, 8.0, 9.0, np.nan], [4.0, np.nan, np.nan, np.nan], [1.0, 3.0, 6.0, 7.0]])
    got = leave_one_out_medians(ratings, np.array([1.0, 1.0, 0.0, 2.0]))
    assert got[0].tolist()[:3] == [8.0, 2.0, 5.0]  # v2 weighs 0 beside a positive weight; alone, all count
    assert np.isnan(got[0, 3]) and np.isnan(got[1]).all()  # not rated; nobody else rated it
    assert got[2].tolist() == [7.0, 7.0, 5.0, 2.0]  # halves split between the two middle ratings
    with pytest.raises(InputError, match="one per rater"):
        leave_one_out_medians(ratings, np.ones(3))
    with pytest.raises(InputError, match=r"0 or more, got -1\.0"):
        leave_one_out_medians(ratings, -np.ones(4))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"scale": 0.0}, "scale"), ({"par": float("inf")}, "par"), ({"informative": -1.0}, "informative"),
     ({"doubt": -0.5}, "doubt"), ({"signal": 0.0}, "signal")],
)  # fmt: skip
def test_evidence_rule_refuses_nonsense(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InputError, match=match):
        EvidenceRule(**kwargs)


def test_batch_evidence_refuses_mismatched_or_bad_input() -> None:
    one = np.zeros(1, np.intp)
    with pytest.raises(InputError, match="one of each per rating"):
        batch_evidence(one, np.ones(2), np.ones(1), one, np.zeros(1, bool), np.ones(1), EVIDENCE)
    with pytest.raises(InputError, match="rater indices"):
        batch_evidence(one + 3, np.ones(1), np.ones(1), one, np.zeros(1, bool), np.ones(1), EVIDENCE)
    with pytest.raises(InputError, match="every rating must be a finite number"):
        batch_evidence(one, np.array([np.nan]), np.ones(1), one, np.zeros(1, bool), np.ones(1), EVIDENCE)
    with pytest.raises(InputError, match="rater weights must be 0 or more"):
        batch_evidence(one, np.ones(1), np.ones(1), one, np.zeros(1, bool), -np.ones(1), EVIDENCE)
    with pytest.raises(InputError, match="observation count"):
        fold_trust(0.5, [0.5], [False], TrustRule(), [-1.0])
