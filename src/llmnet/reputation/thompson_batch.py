"""The best ``k`` of Thompson draws for many requests that share one set of posteriors,
without drawing for every candidate (pure, no I/O).

Ranking ``m`` requests over ``n`` candidates by Thompson sampling draws ``m x n`` Betas, of
which only the top ``k`` per request matter. :func:`thompson_top_k` gives the same top ``k``
with the same distribution, drawing in three steps per request:

1. pick a threshold ``tau``;
2. find the draws above it and their values. A candidate whose Beta is log-concave and falls
   at ``tau`` (a thin tail) has the tangent of its log-density at ``tau`` as an envelope:
   ``f(x) <= f(tau) exp(-lam (x - tau))``, of mass ``q = f(tau) / lam`` above ``tau``. Each
   request proposes a draw above ``tau`` with probability ``q`` (a binomial count per
   candidate, spread over the requests), its value ``tau`` plus an exponential of rate
   ``lam``, and keeps it with probability ``f(x) / envelope(x)``: a kept proposal has density
   ``f`` above ``tau``, so each request's draw exceeds ``tau`` with probability
   ``P(X > tau)`` and has the right value, at the cost of about ``q`` per request and no
   incomplete Beta function. Any other candidate (likely above ``tau``) is drawn for every
   request, keeping what exceeds. When ``k`` or more exceed ``tau``, the top ``k`` are among
   them and the other draws are never needed;
3. a request with fewer than ``k`` exceeding draws also draws the rest, conditioned on not
   exceeding ``tau`` (rejection, then inverse CDF for the few still left), and ranks them all.

Conditioning each draw on which side of ``tau`` it falls and then drawing that side's
conditional law is the same joint law as drawing it directly, so only the cost depends on
``tau``; it is set so that about ``expected`` draws per request exceed it.

:func:`budget_top_k` adds the exploration budget of
:meth:`~llmnet.reputation.selection.ThompsonSampling.scores`: a request is held with
probability ``1 - share``; a held request ranks its proven candidates first, so its top ``k``
is the top ``k`` of the proven, completed by the best unproven when fewer than ``k`` are
proven. The draws are independent across candidates, so ranking each group by its own draws
is the same law as ranking all of them with the unproven pushed down.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import special

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]
REJECTION_ROUNDS = 8
DENSE = 0.2  # candidates whose envelope mass above tau passes this are drawn for every request


def exceed_threshold(a: FloatArray, b: FloatArray, expected: float, rng: np.random.Generator,
                     rows: int = 4) -> float:  # fmt: skip
    """A ``tau`` that about ``expected`` of each request's draws exceed: the matching order
    statistic of a few plain requests' draws (any value in (0, 1) gives exact results, this one
    makes them cheap)."""
    sample = rng.beta(a, b, (rows, len(a))).ravel()
    rank = min(len(sample) - 1, max(0, round(expected * rows) - 1))
    tau = float(-np.partition(-sample, rank)[rank])
    return min(max(tau, 1e-9), 1.0 - 1e-9)


def _draws_below(a: FloatArray, b: FloatArray, tau: float, rng: np.random.Generator) -> FloatArray:
    """Beta(a, b) draws conditioned on not exceeding ``tau``: rejection, most draws pass."""
    x: FloatArray = rng.beta(a, b)
    redo = np.flatnonzero(x > tau)
    for _ in range(REJECTION_ROUNDS):
        if not len(redo):
            return x
        x[redo] = rng.beta(a[redo], b[redo])
        redo = redo[x[redo] > tau]
    if len(redo):  # candidates almost sure to exceed tau: invert the CDF below it
        x[redo] = special.betaincinv(a[redo], b[redo], rng.random(len(redo)) * special.betainc(a[redo], b[redo], tau))
    return x


def exceeding(p: FloatArray, m: int, rng: np.random.Generator) -> tuple[IndexArray, IndexArray]:
    """(request, candidate) of every event of chance ``p[i]`` for candidate ``i`` in each of ``m``
    requests independently (a proposal from the envelope above ``tau``). A likely candidate gets one
    uniform per request; an unlikely one a binomial count, then that many distinct requests
    uniformly (repeats drawn again: the procedure treats every request alike, so the set it ends
    with is uniform), which costs its expected count rather than ``m``."""
    likely = np.flatnonzero(p > DENSE)
    rows_l, at = np.nonzero(rng.random((m, len(likely))) < p[likely])
    sparse = np.flatnonzero(p <= DENSE)
    cols = np.repeat(sparse, rng.binomial(m, p[sparse]))
    rows = rng.integers(0, m, len(cols))
    while True:
        _, first = np.unique(cols * m + rows, return_index=True)
        again = np.ones(len(cols), dtype=bool)
        again[first] = False
        if not again.any():
            return np.concatenate((rows_l, rows)), np.concatenate((likely[at], cols))
        rows[again] = rng.integers(0, m, int(again.sum()))


def thompson_top_k(
    a: FloatArray, b: FloatArray, m: int, k: int, rng: np.random.Generator, expected: float = 8.0
) -> IndexArray:
    """For ``m`` requests, the indices (shape ``(m, k)``, best first) of the ``k`` highest of
    independent draws ``X_i ~ Beta(a_i, b_i)``, ``i < n``: the law of
    ``top_indices(rng.beta(a, b, (m, n)), k)``, at a cost of about ``expected`` draws per request."""
    n = len(a)
    if m <= 0:
        return np.empty((0, min(max(k, 0), n)), dtype=np.intp)
    if k >= n or k <= 0:
        draws: FloatArray = rng.beta(a, b, (m, n))
        return np.argsort(-draws, axis=-1, kind="stable")[:, : max(k, 0)]
    tau = exceed_threshold(a, b, expected, rng)
    return _top_k_over(a, b, tau, m, k, rng)


def _above(a: FloatArray, b: FloatArray, tau: float, m: int,
           rng: np.random.Generator) -> tuple[IndexArray, IndexArray, FloatArray]:  # fmt: skip
    """(request, candidate, draw) of every draw above ``tau`` in ``m`` requests (step 2 of
    :func:`thompson_top_k`)."""
    span = 1.0 - tau
    slope = (b - 1.0) / span - (a - 1.0) / tau  # minus the log-density's slope at tau
    flat = np.abs(slope) * span < 1e-12
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        f_tau = np.exp((a - 1.0) * np.log(tau) + (b - 1.0) * np.log1p(-tau) - special.betaln(a, b))
        # the envelope's mass above tau: a falling tangent's whole exponential (proposed plainly,
        # refused past 1), else its part below 1 (a flat or rising tangent, proposed by its CDF)
        rising = f_tau * np.where(flat, span, np.expm1(-slope * span) / np.where(flat, 1.0, -slope))
        mass = np.where(slope > 0.0, f_tau / slope, rising)
    thin = (a >= 1.0) & (b >= 1.0) & (mass <= DENSE)
    likely = np.flatnonzero(~thin)
    grid = rng.beta(a[likely], b[likely], (m, len(likely)))
    rows_l, at = np.nonzero(grid > tau)
    rows, cols = exceeding(np.where(thin, mass, 0.0), m, rng)
    t = _envelope_draws(slope[cols], (slope > 0.0)[cols], flat[cols], span, rng)
    kept = _under_density(a[cols], b[cols], slope[cols], t, tau, rng)
    return (np.concatenate((rows_l, rows[kept])), np.concatenate((likely[at], cols[kept])),
            np.concatenate((grid[rows_l, at], tau + t[kept])))  # fmt: skip


def _envelope_draws(lam: FloatArray, falling: NDArray[np.bool_], flat: NDArray[np.bool_], span: float,
                    rng: np.random.Generator) -> FloatArray:  # fmt: skip
    """``x - tau`` proposed from the envelope ``exp(-lam t)``: a plain exponential where it falls,
    else its inverse CDF on ``(0, span)`` (uniform where it is flat)."""
    t = np.empty(len(lam))
    down, up = np.flatnonzero(falling), np.flatnonzero(~falling)
    t[down] = rng.standard_exponential(len(down)) / lam[down]
    rise, u, level = lam[up], rng.random(len(up)), flat[up]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t[up] = np.where(level, u * span, -np.log1p(u * np.expm1(-rise * span)) / np.where(level, 1.0, rise))
    return t


def _under_density(a: FloatArray, b: FloatArray, lam: FloatArray, t: FloatArray, tau: float,
                   rng: np.random.Generator) -> NDArray[np.bool_]:  # fmt: skip
    """Which envelope proposals ``tau + t`` to keep: those inside ``(tau, 1)``, each with chance
    ``f(x) / envelope(x) = exp(gap)``, tested as ``E >= -gap`` for an exponential ``E`` (no
    logarithm needed). A log-concave density lies below its tangent, so ``gap <= 0``."""
    span = 1.0 - tau
    inside = t < span
    t = np.where(inside, t, span / 2)  # outside: refused, kept finite for the arithmetic
    gap = (a - 1.0) * np.log1p(t / tau) + lam * t + np.where(b > 1.0, (b - 1.0) * np.log1p(-t / span), 0.0)
    kept: NDArray[np.bool_] = inside & (rng.standard_exponential(len(a)) >= -gap)
    return kept


def _top_k_over(a: FloatArray, b: FloatArray, tau: float, m: int, k: int, rng: np.random.Generator) -> IndexArray:
    """Steps 2 and 3 of :func:`thompson_top_k` for a given ``tau`` (``0 < k < n``)."""
    n = len(a)
    if m <= 0:
        return np.empty((0, k), dtype=np.intp)
    rows, cols, values = _above(a, b, tau, m, rng)
    counts = np.bincount(rows, minlength=m)
    order = np.lexsort((-values, rows))  # by request, then highest draw first
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    full = np.flatnonzero(counts >= k)
    chosen = np.empty((m, k), dtype=np.intp)
    chosen[full] = cols[order[starts[full, None] + np.arange(k)]]
    short = np.flatnonzero(counts < k)
    if len(short):  # rare: rank every draw of these requests
        grid = _draws_below(np.tile(a, len(short)), np.tile(b, len(short)), tau, rng).reshape(len(short), n)
        mine = np.isin(rows, short)
        grid[np.searchsorted(short, rows[mine]), cols[mine]] = values[mine]
        chosen[short] = np.argsort(-grid, axis=-1, kind="stable")[:, :k]
    return chosen


def budget_top_k(a: FloatArray, b: FloatArray, proven: NDArray[np.bool_], m: int, k: int, rng: np.random.Generator,
                 share: float, expected: float = 8.0) -> IndexArray:  # fmt: skip
    """:func:`thompson_top_k` under the exploration budget: each request independently is held
    with probability ``1 - share``, and a held request ranks every ``proven`` candidate before
    every other (the law of ``ThompsonSampling.rank_arrays`` with ``count < proven_after`` as
    not ``proven``). Shape ``(m, min(k, n))``."""
    n_proven = int(np.count_nonzero(proven))
    if share >= 1.0 or n_proven in (0, len(a)):
        return thompson_top_k(a, b, m, k, rng, expected)
    held = int(rng.binomial(m, 1.0 - share))
    width = min(max(k, 0), len(a))
    out = np.empty((m, width), dtype=np.intp)
    if 0 < width < n_proven:
        # one tau for both kinds of request, set for the held (most of them); an unheld
        # request has more draws above it, the unproven's too
        mine = np.flatnonzero(proven)
        tau = exceed_threshold(a[mine], b[mine], expected, rng)
        out[held:] = _top_k_over(a, b, tau, m - held, width, rng)
        out[:held] = mine[_top_k_over(a[mine], b[mine], tau, held, width, rng)]
    else:
        out[held:] = thompson_top_k(a, b, m - held, k, rng, expected)
        out[:held] = _proven_first(a, b, proven, held, width, rng, expected)
    # rows are exchangeable: a uniform shuffle makes each request held independently
    return out[rng.permutation(m)]


def _proven_first(a: FloatArray, b: FloatArray, proven: NDArray[np.bool_], m: int, width: int,
                  rng: np.random.Generator, expected: float) -> IndexArray:  # fmt: skip
    """The top ``width`` of ``m`` held requests: the proven by their draws, then the unproven."""
    mine, others = np.flatnonzero(proven), np.flatnonzero(~proven)
    first = min(width, len(mine))
    out = np.empty((m, width), dtype=np.intp)
    out[:, :first] = mine[thompson_top_k(a[mine], b[mine], m, first, rng, expected)]
    if first < width:
        out[:, first:] = others[thompson_top_k(a[others], b[others], m, width - first, rng, expected)]
    return out
