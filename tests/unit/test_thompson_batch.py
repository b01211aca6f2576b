"""The batch Thompson sampler gives the same top k, in law, as drawing every candidate."""

from __future__ import annotations

import numpy as np
import pytest

from llmnet.reputation.selection import ThompsonSampling, top_indices
from llmnet.reputation.thompson_batch import exceed_threshold, thompson_top_k


def _posteriors(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = rng.uniform(1.0, 80.0, n), rng.uniform(1.0, 40.0, n)
    a[: n // 5], b[: n // 5] = 1.0, 1.0  # newcomers: Beta(1, 1)
    return a, b


def _max_gap_in_standard_errors(x: np.ndarray, y: np.ndarray, n: int) -> float:
    """Largest difference between two samples' frequencies of each (position, candidate), in
    standard errors of the difference."""
    worst = 0.0
    for j in range(x.shape[1]):
        fx = np.bincount(x[:, j], minlength=n) / len(x)
        fy = np.bincount(y[:, j], minlength=n) / len(y)
        pooled = np.maximum((fx + fy) / 2, 1 / len(y))  # the same-law estimate of both frequencies
        se = np.sqrt(2 * pooled * (1 - pooled) / len(y))
        worst = max(worst, float(np.max(np.abs(fx - fy) / se)))
    return worst


@pytest.mark.parametrize(("seed", "n", "k", "expected"), [(0, 30, 2, 8.0), (1, 60, 3, 8.0), (2, 25, 2, 0.5)])
def test_top_k_has_the_law_of_drawing_every_candidate(seed: int, n: int, k: int, expected: float) -> None:
    rng = np.random.default_rng(seed)
    a, b = _posteriors(rng, n)
    m = 60_000
    batch = thompson_top_k(a, b, m, k, np.random.default_rng([seed, 1]), expected)
    plain = top_indices(np.random.default_rng([seed, 2]).beta(a, b, (m, n)), k)
    assert batch.shape == (m, k)
    assert all(len(set(row)) == k for row in batch[:1000].tolist())
    # n * k frequencies compared: a gap beyond 5 standard errors would be a real difference in law
    assert _max_gap_in_standard_errors(batch, plain, n) < 5.0


def test_a_strong_candidate_is_first_as_often_as_plain_draws_make_it() -> None:
    a, b = np.array([40.0, 30.0, 1.0, 5.0]), np.array([10.0, 10.0, 1.0, 5.0])
    m = 100_000
    batch = thompson_top_k(a, b, m, 1, np.random.default_rng(3), expected=1.0)
    plain = top_indices(np.random.default_rng(4).beta(a, b, (m, 4)), 1)
    assert abs((batch[:, 0] == 0).mean() - (plain[:, 0] == 0).mean()) < 0.01


def test_k_at_least_n_ranks_every_candidate() -> None:
    a, b = np.array([5.0, 1.0]), np.array([1.0, 5.0])
    out = thompson_top_k(a, b, 7, 3, np.random.default_rng(0))
    assert out.shape == (7, 2)
    assert sorted(out[0].tolist()) == [0, 1]


def test_threshold_is_exceeded_by_about_the_expected_number_of_draws() -> None:
    rng = np.random.default_rng(5)
    a, b = _posteriors(rng, 1000)
    tau = exceed_threshold(a, b, 8.0, rng, rows=50)
    per_request = (rng.beta(a, b, (2000, 1000)) > tau).sum(axis=1).mean()
    assert 6.0 < per_request < 10.0


def test_policy_top_k_rows_uses_the_weighted_posterior() -> None:
    policy = ThompsonSampling()
    alpha, beta = np.array([40.0, 0.0, 2.0]), np.array([2.0, 0.0, 40.0])
    rows = policy.top_k_rows(alpha, beta, np.zeros(3), 2000, 1, np.random.default_rng(6))
    plain = policy.rank_arrays(np.broadcast_to(alpha, (2000, 3)), np.broadcast_to(beta, (2000, 3)),
                               np.zeros((2000, 3)), np.random.default_rng(7), 1)  # fmt: skip
    assert abs((rows[:, 0] == 0).mean() - (plain[:, 0] == 0).mean()) < 0.03
    assert (rows[:, 0] == 2).mean() < 0.01


def test_exceeding_marks_each_request_once_per_candidate_with_its_chance() -> None:
    from llmnet.reputation.thompson_batch import exceeding

    p = np.array([0.9, 0.3, 0.15, 0.01, 0.0])
    rng = np.random.default_rng(8)
    hits = np.zeros((50, 5))
    for _ in range(400):
        rows, cols = exceeding(p, 50, rng)
        assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) == len(rows)  # no request twice
        np.add.at(hits, (rows, cols), 1)
    share = hits / 400
    assert np.abs(share - p).max() < 0.1  # every request, every candidate: about p
    assert np.abs(share.mean(axis=0) - p).max() < 0.01


def _evidence(rng: np.random.Generator, n: int, proven: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evidence in whole observations: ``proven`` candidates with 5-30 observations, the rest 0-4,
    a few of those all good (a posterior Beta(a, 1), rising to its mode at 1)."""
    count = np.concatenate((rng.integers(5, 31, proven), rng.integers(0, 5, n - proven))).astype(np.float64)
    rng.shuffle(count)
    mean = rng.uniform(0.3, 0.95, n)
    mean[np.flatnonzero(count < 5)[::3]] = 1.0
    return count * mean, count * (1.0 - mean), count


@pytest.mark.parametrize(("seed", "n", "proven", "k"), [(10, 40, 25, 3), (11, 30, 2, 3), (12, 50, 45, 2)])
def test_top_k_rows_has_the_law_of_ranking_every_candidate_under_the_budget(
    seed: int, n: int, proven: int, k: int
) -> None:
    policy = ThompsonSampling(newcomer_share=0.3)
    alpha, beta, count = _evidence(np.random.default_rng(seed), n, proven)
    m = 60_000
    batch = policy.top_k_rows(alpha, beta, count, m, k, np.random.default_rng([seed, 1]))
    grid = [np.broadcast_to(x, (m, n)) for x in (alpha, beta, count)]
    plain = policy.rank_arrays(*grid, np.random.default_rng([seed, 2]), k)
    assert batch.shape == (m, k)
    assert all(len(set(row)) == k for row in batch[:1000].tolist())
    assert _max_gap_in_standard_errors(batch, plain, n) < 5.0


def test_the_budget_puts_an_unproven_candidate_first_on_about_its_share_of_requests() -> None:
    # one strong newcomer (4 observations, all good) among weak proven candidates: unheld it wins
    # nearly always, held it never can while k proven candidates exist
    policy = ThompsonSampling(newcomer_share=0.1)
    alpha, beta, count = np.full(300, 6.0), np.full(300, 14.0), np.full(300, 20.0)
    alpha[7], beta[7], count[7] = 4.0, 0.0, 4.0
    rows = policy.top_k_rows(alpha, beta, count, 20_000, 2, np.random.default_rng(9))
    assert abs((rows[:, 0] == 7).mean() - 0.1) < 0.01
    assert ((rows == 7).any(axis=1)).mean() < 0.11


@pytest.mark.parametrize(
    ("a", "b", "tau"),
    [(3.0, 20.0, 0.4), (1.0, 1.0, 0.9), (40.0, 5.0, 0.97), (1.0, 30.0, 0.2), (40.0, 1.0, 0.995), (30.0, 1.05, 0.99),
     (200.0, 60.0, 0.85), (2.0, 2.0, 0.6)],
)  # fmt: skip
def test_draws_above_tau_exceed_it_as_often_as_the_beta_does_with_its_law(a: float, b: float, tau: float) -> None:
    from scipy import special

    from llmnet.reputation.thompson_batch import _above

    m = 200_000
    rows, cols, x = _above(np.array([a]), np.array([b]), tau, m, np.random.default_rng(13))
    assert len(np.unique(rows)) == len(rows) and (cols == 0).all()  # at most one draw per request
    above = special.betainc(b, a, 1.0 - tau)
    assert abs(len(rows) / m - above) < 5 * np.sqrt(above * (1 - above) / m)
    assert (x > tau).all() and (x <= 1.0).all()
    x = np.sort(x)
    cdf = 1.0 - special.betainc(b, a, 1.0 - x) / above  # P(X <= x | X > tau)
    ks = np.max(np.abs(cdf - np.arange(1, len(x) + 1) / len(x)))
    assert ks < 1.95 / np.sqrt(len(x))  # Kolmogorov-Smirnov at the 0.1 % level
