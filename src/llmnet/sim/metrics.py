"""What a run is judged by (pure functions over a :class:`~llmnet.sim.runner.Trace`).

- **expert share**: of the respondents asked, the share that are true experts of the
  request's domain; reported after the warm-up (the first ``warmup_per_domain`` requests of
  each domain).
- **regret** per request: the mean hidden quality of the best ``k`` providers who could have
  been asked minus that of those asked; cumulative regret is its running sum.
- **delivered quality**: the mean realised quality of the answers a request got.
- **attacker share**: of the respondents asked after the warm-up, the share that are attackers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from llmnet.sim.runner import Trace


@dataclass(frozen=True)
class Summary:
    policy: str
    expert_share_after_warmup: float
    cumulative_regret: float
    delivered_quality: float
    attacker_share_after_warmup: float


def after_warmup(domains: NDArray[np.int64], warmup_per_domain: int) -> NDArray[np.bool_]:
    """True for requests past the first ``warmup_per_domain`` of their own domain."""
    mask = np.zeros(len(domains), dtype=bool)
    for d in np.unique(domains):
        rows = np.flatnonzero(domains == d)
        mask[rows[warmup_per_domain:]] = True
    return mask


def cumulative_regret(trace: Trace) -> NDArray[np.float64]:
    return np.cumsum(trace.oracle_quality - trace.chosen_quality)


def _mean(values: NDArray[np.float64]) -> float:
    return float(values.mean()) if len(values) else float("nan")


def summarize(trace: Trace, warmup_per_domain: int) -> Summary:
    late = after_warmup(trace.domain, warmup_per_domain)
    return Summary(
        policy=trace.policy,
        expert_share_after_warmup=_mean(trace.expert_share[late]),
        cumulative_regret=float(cumulative_regret(trace)[-1]),
        delivered_quality=_mean(trace.delivered),
        attacker_share_after_warmup=_mean(trace.attacker_share[late]),
    )


def windowed(values: NDArray[np.float64], windows: int = 50) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(request index at each window's end, mean of ``values`` over the window), for plots."""
    edges = np.linspace(0, len(values), min(windows, len(values)) + 1).astype(int)
    means = np.array([values[a:b].mean() for a, b in itertools.pairwise(edges)])
    return edges[1:].astype(np.float64), means


def accuracy(trace: Trace, correct_at_quality: float) -> float:
    """Share of requests whose answer as delivered (the best-rated of those asked) has realised
    quality at least ``correct_at_quality``; in the real-model run, a reference score of at
    least the threshold (see :mod:`llmnet.sim.real`)."""
    return _mean((trace.final >= correct_at_quality - 1e-12).astype(np.float64))
