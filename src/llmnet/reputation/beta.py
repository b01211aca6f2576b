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
    successes = failures = 0
    for i, score in enumerate(scores):
        weight = fp_pow(decay, m - 1 - i)
        s = score_to_fixed(score)
        share = UNIT if weights is None else score_to_fixed(weights[i])
        successes += s * share // UNIT * weight // DECAY_ONE
        failures += (UNIT - s) * share // UNIT * weight // DECAY_ONE
    return RepDelta(count=m, successes=successes, failures=failures)


def apply_update(state: RepState, delta: RepDelta, decay: int, now: int) -> RepState:
    """The contract's ``apply`` for one pair."""
    factor = fp_pow(decay, delta.count)
    alpha = state.alpha * factor // DECAY_ONE + delta.successes
    beta = state.beta * factor // DECAY_ONE + delta.failures
    count = state.count + delta.count
    if alpha > MAX80 or beta > MAX80 or count > MAX48:
        raise OverflowError("reputation overflow")
    return RepState(alpha=alpha, beta=beta, count=count, updated_at=now)
