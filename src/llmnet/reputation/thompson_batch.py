"""The best ``k`` of Thompson draws for many requests that share one set of posteriors,
without drawing for every candidate (pure, no I/O).

Ranking ``m`` requests over ``n`` candidates by Thompson sampling draws ``m x n`` Betas, of
which only the top ``k`` per request matter. :func:`thompson_top_k` gives the same top ``k``
with the same distribution, drawing in three steps per request:

1. pick a threshold ``tau``; each candidate's draw exceeds it with probability
   ``p_i = P(X_i > tau)`` (the regularised incomplete Beta function), independently;
2. decide which draws exceed it (a binomial count per candidate, spread over the requests) and draw those
   from their Beta conditioned on exceeding it (rejection from the tangent exponential, see
   :func:`_tail_draws`), or, for a candidate likely to exceed it, draw it for every request
   and keep what exceeds: when ``k`` or more exceed it, the top ``k`` are among them and the
   other draws are never needed;
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
TAIL_ROUNDS = 30
TAIL_TRIES = 4  # proposals per draw in the later rounds, for the draws the first round refused
DENSE = 0.2  # candidates above this chance of exceeding tau get one uniform per request


def exceed_threshold(a: FloatArray, b: FloatArray, expected: float, rng: np.random.Generator,
                     rows: int = 4) -> float:  # fmt: skip
    """A ``tau`` that about ``expected`` of each request's draws exceed: the matching order
    statistic of a few plain requests' draws (any value in (0, 1) gives exact results, this one
    makes them cheap)."""
    sample = rng.beta(a, b, (rows, len(a))).ravel()
    rank = min(len(sample) - 1, max(0, round(expected * rows) - 1))
    tau = float(-np.partition(-sample, rank)[rank])
    return min(max(tau, 1e-9), 1.0 - 1e-9)


def _draws_above(a: FloatArray, b: FloatArray, p: FloatArray, tau: float, rng: np.random.Generator) -> FloatArray:
    """Beta(a, b) draws conditioned on exceeding ``tau``, where ``p = P(X > tau)`` is small: by
    :func:`_tail_draws` for a log-concave Beta (``a, b >= 1``), else by the inverse CDF
    (:func:`_inverse_above`)."""
    x = np.empty(len(a))
    concave = (a >= 1.0) & (b >= 1.0)
    tail, other = np.flatnonzero(concave), np.flatnonzero(~concave)
    x[tail] = _tail_draws(a[tail], b[tail], p[tail], tau, rng)
    x[other] = _inverse_above(a[other], b[other], p[other], rng)
    return x


def _first_hits(owner: IndexArray, ok: NDArray[np.bool_]) -> IndexArray:
    """Where each owner's first accepted proposal is (``owner`` sorted). The first accepted of
    independent proposals is a rejection sampler's draw; drawing several per round at once
    saves the rounds' fixed cost."""
    hit = np.flatnonzero(ok)
    first: IndexArray = hit[np.flatnonzero(np.diff(owner[hit], prepend=-1))]
    return first


def _inverse_above(a: FloatArray, b: FloatArray, p: FloatArray, rng: np.random.Generator) -> FloatArray:
    """The inverse CDF of ``1 - X ~ Beta(b, a)`` below ``1 - tau``: precise even for tiny ``p``,
    but 30 times the cost of a plain draw."""
    x: FloatArray = 1.0 - special.betaincinv(b, a, rng.random(len(a)) * p)
    return x


def _tail_draws(a: FloatArray, b: FloatArray, p: FloatArray, tau: float, rng: np.random.Generator) -> FloatArray:
    """Beta(a, b) draws conditioned on exceeding ``tau``, for ``a, b >= 1``: rejection from the
    exponential on ``(tau, 1)`` that touches the log-density at ``tau`` (rising or falling). A
    log-concave density lies below its tangent, so this is exact; in a thin tail the tangent is
    close and most proposals are accepted. The few left after ``TAIL_ROUNDS`` use the inverse CDF."""
    span = 1.0 - tau
    slope = (b - 1.0) / span - (a - 1.0) / tau  # minus the log-density's slope at tau
    x = np.empty(len(a))
    todo, left = np.arange(len(a)), np.ones(len(a), dtype=bool)
    for round_ in range(TAIL_ROUNDS):
        if not len(todo):
            return x
        # one try each first (most tails accept most proposals), then several for the few left
        owner = np.repeat(todo, TAIL_TRIES if round_ else 1)
        t, ok = _tail_proposals(a[owner], b[owner], slope[owner], tau, rng)
        first = _first_hits(owner, ok)
        x[owner[first]], left[owner[first]] = tau + t[first], False
        todo = todo[left[todo]]
    x[todo] = _inverse_above(a[todo], b[todo], p[todo], rng)
    return x


def _tail_proposals(a: FloatArray, b: FloatArray, lam: FloatArray, tau: float,
                    rng: np.random.Generator) -> tuple[FloatArray, NDArray[np.bool_]]:  # fmt: skip
    """One proposal ``t = x - tau`` each from the tangent exponential of rate ``lam`` on
    ``(0, 1 - tau)``, and whether it is accepted. A falling tangent (nearly always) proposes a
    plain exponential, refused past ``1 - tau``; a flat or rising one inverts its CDF. The test
    ``E >= -gap`` with ``E`` exponential accepts with chance ``exp(gap)``, without a logarithm."""
    span = 1.0 - tau
    t = np.empty(len(a))
    falling = lam * span > 1e-12
    down, up = np.flatnonzero(falling), np.flatnonzero(~falling)
    t[down] = rng.standard_exponential(len(down)) / lam[down]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rise, u = lam[up], rng.random(len(up))
        flat = np.abs(rise) * span < 1e-12  # a flat tangent: the proposal is uniform
        t[up] = np.where(flat, u * span, -np.log1p(u * np.expm1(-rise * span)) / np.where(flat, 1.0, rise))
        inside = (t > 0.0) & (t < span)
        t = np.where(inside, t, span / 2)  # outside: refused below, kept finite for the arithmetic
        gap = (a - 1.0) * np.log1p(t / tau) + lam * t  # log-density minus its tangent, <= 0
        gap += np.where(b > 1.0, (b - 1.0) * np.log1p(-t / span), 0.0)
        ok = inside & (rng.standard_exponential(len(a)) >= -gap)  # NaN gaps: refused
    return t, ok


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
    """(request, candidate) of every draw above ``tau``, candidate ``i``'s draws exceeding it with
    probability ``p[i]`` in each of ``m`` requests independently. A likely candidate gets one
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
    return _top_k_over(a, b, chance_above(a, b, tau), tau, m, k, rng)


def chance_above(a: FloatArray, b: FloatArray, tau: float) -> FloatArray:
    """``P(X > tau)`` for ``X ~ Beta(a, b)``, as ``P(1 - X < 1 - tau)``."""
    p: FloatArray = special.betainc(b, a, 1.0 - tau)
    return p


def _above(a: FloatArray, b: FloatArray, p: FloatArray, tau: float, m: int,
           rng: np.random.Generator) -> tuple[IndexArray, IndexArray, FloatArray]:  # fmt: skip
    """(request, candidate, draw) of every draw above ``tau`` in ``m`` requests. A likely
    candidate (``p > DENSE``) is drawn for every request and its draws above ``tau`` kept: as
    many Beta draws as rejection would take, without its rounds; an unlikely one exceeds by
    :func:`exceeding` and is drawn conditioned on it."""
    likely = np.flatnonzero(p > DENSE)
    grid = rng.beta(a[likely], b[likely], (m, len(likely)))
    rows_l, at = np.nonzero(grid > tau)
    rows, cols = exceeding(np.where(p > DENSE, 0.0, p), m, rng)
    values = _draws_above(a[cols], b[cols], p[cols], tau, rng)
    return (np.concatenate((rows_l, rows)), np.concatenate((likely[at], cols)),
            np.concatenate((grid[rows_l, at], values)))  # fmt: skip


def _top_k_over(a: FloatArray, b: FloatArray, p: FloatArray, tau: float, m: int, k: int,
                rng: np.random.Generator) -> IndexArray:  # fmt: skip
    """Steps 2 and 3 of :func:`thompson_top_k` for a given ``tau`` and ``p = P(X > tau)`` (``0 < k < n``)."""
    n = len(a)
    if m <= 0:
        return np.empty((0, k), dtype=np.intp)
    rows, cols, values = _above(a, b, p, tau, m, rng)
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
        # one tau for both kinds of request, set for the held (most of them), and one incomplete
        # Beta per candidate; an unheld request has more draws above it, the unproven's too
        mine = np.flatnonzero(proven)
        tau = exceed_threshold(a[mine], b[mine], expected, rng)
        p = chance_above(a, b, tau)
        out[held:] = _top_k_over(a, b, p, tau, m - held, width, rng)
        out[:held] = mine[_top_k_over(a[mine], b[mine], p[mine], tau, held, width, rng)]
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
