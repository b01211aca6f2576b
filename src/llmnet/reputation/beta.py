"""Decayed Beta reputation in the same fixed-point integers as the chain.

The on-chain reputation book (kept by contracts/TaskEscrow.vy) keeps, per
(provider, domain), Beta evidence ``alpha`` and ``beta`` in units of 1e-9 and
a decay factor in units of 1e-18. Each observation with score ``s`` in [0, 1]
does ``alpha <- alpha*decay + s`` and ``beta <- beta*decay + (1 - s)``.

A batch aggregates m observations of one pair into one update with
decay-weighted sums (``aggregate``), so the contract applies ``decay**m`` once.
``apply_update`` mirrors the contract bit for bit; the in-memory ledger and the
simulation call these functions, never a copy.

>>> u = aggregate([1.0, 0.0], DECAY_ONE)      # no decay: one success, one failure
>>> apply_update(RepState(), u, DECAY_ONE, now=5)
RepState(alpha=1000000000, beta=1000000000, count=2, updated_at=5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

DECAY_ONE = 10**18
UNIT = 10**9
MAX80 = 2**80 - 1
MAX48 = 2**48 - 1


@dataclass(frozen=True, slots=True)
class RepState:
    alpha: int = 0
    beta: int = 0
    count: int = 0
    updated_at: int = 0

    def mean(self, prior_alpha: float = 1.0, prior_beta: float = 1.0) -> float:
        """Posterior mean quality in [0, 1] under a Beta(prior_alpha, prior_beta) prior."""
        a = self.alpha / UNIT + prior_alpha
        b = self.beta / UNIT + prior_beta
        return a / (a + b)


@dataclass(frozen=True, slots=True)
class RepDelta:
    """One aggregated update for a (provider, domain) pair: fixed-point sums."""

    count: int
    successes: int
    failures: int


@lru_cache(maxsize=4096)  # a batch folds observations with the same few powers of one decay
def fp_pow(x: int, n: int) -> int:
    """``x**n`` in 1e18 fixed point, rounding exactly as the contract does."""
    result, base, e = DECAY_ONE, x, n
    for _ in range(64):
        if e == 0:
            break
        if e & 1:
            result = result * base // DECAY_ONE
        base = base * base // DECAY_ONE
        e >>= 1
    return result


def decay_from_float(decay: float) -> int:
    if not 0.0 < decay <= 1.0:
        raise ValueError(f"decay must be in (0, 1], got {decay}")
    return round(decay * DECAY_ONE)


def score_to_fixed(score: float) -> int:
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must be in [0, 1], got {score}")
    return round(score * UNIT)


def aggregate(scores: Sequence[float], decay: int, weights: Sequence[float] | None = None) -> RepDelta:
    """Fold observations (oldest first) into one delta equal to applying them in turn.

    ``weights`` (each in [0, 1], default 1) scale an observation's evidence: a weight of 0.5 adds
    half of ``s`` and of ``1 - s``; every observation still counts as one step of decay."""
    m = len(scores)
    if weights is not None and len(weights) != m:
        raise ValueError(f"{len(weights)} weights for {m} scores")
    share = np.ones(m) if weights is None else np.asarray(weights, dtype=np.float64)
    _, successes, failures = aggregate_groups(np.zeros(m, dtype=np.intp), np.asarray(scores, np.float64), share, decay)
    return RepDelta(count=m, successes=int(successes[0]) if m else 0, failures=int(failures[0]) if m else 0)


def _fixed(values: NDArray[np.float64], what: str) -> NDArray[np.int64]:
    """:func:`score_to_fixed` of every element (``np.rint`` rounds half to even, as ``round`` does)."""
    if not ((values >= 0.0) & (values <= 1.0)).all():
        bad = values[~((values >= 0.0) & (values <= 1.0))][0]
        raise ValueError(f"{what} must be in [0, 1], got {bad}")
    return np.rint(values * UNIT).astype(np.int64)


def _scaled(x: NDArray[np.int64], factor: NDArray[np.int64]) -> NDArray[np.int64]:
    """``x * factor // DECAY_ONE`` exactly in int64 for ``x < 1e18`` and ``factor <= 1e18``: the
    factor is split at 1e9 so that no product passes 2**63."""
    high, low = np.divmod(factor, UNIT)
    a = x * high
    result: NDArray[np.int64] = a // UNIT + ((a % UNIT) * UNIT + x * low) // DECAY_ONE
    return result


def aggregate_groups(
    group: NDArray[np.intp], scores: NDArray[np.float64], weights: NDArray[np.float64], decay: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """:func:`aggregate` of many pairs at once: observation ``i`` (score, weight) belongs to pair
    ``group[i]`` (0..G-1, every pair observed, each one's observations oldest first). Returns per pair
    ``(count, successes, failures)``, the same integers as :func:`aggregate`."""
    n_groups = int(group.max()) + 1 if len(group) else 0
    order = np.argsort(group, kind="stable")
    g = group[order]
    count = np.bincount(g, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(count)[:-1]))
    steps_after = (starts + count)[g] - 1 - np.arange(len(g))  # observations after this one in its pair
    exponents, where = np.unique(steps_after, return_inverse=True)
    factor = np.array([fp_pow(decay, int(e)) for e in exponents], dtype=np.int64)[where]
    s, share = _fixed(scores[order], "score"), _fixed(weights[order], "weight")
    ok = _scaled(s * share // UNIT, factor)
    bad = _scaled((UNIT - s) * share // UNIT, factor)
    if not len(g):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return count.astype(np.int64), np.add.reduceat(ok, starts), np.add.reduceat(bad, starts)


def apply_update(state: RepState, delta: RepDelta, decay: int, now: int) -> RepState:
    """The contract's ``apply`` for one pair."""
    factor = fp_pow(decay, delta.count)
    alpha = state.alpha * factor // DECAY_ONE + delta.successes
    beta = state.beta * factor // DECAY_ONE + delta.failures
    count = state.count + delta.count
    if alpha > MAX80 or beta > MAX80 or count > MAX48:
        raise OverflowError("reputation overflow")
    return RepState(alpha=alpha, beta=beta, count=count, updated_at=now)
