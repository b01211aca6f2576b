"""How each simulated coordinator picks respondents for a batch of requests of one domain.

:class:`BanditSelector` runs a live-network :class:`~llmnet.reputation.selection.ScoringPolicy`
over the ledger's reputation for the whole batch at once (arrays of shape
``(requests, candidates)``). The two rating-average baselines keep their own per-provider
score instead of the ledger's Beta evidence, as the systems they stand for do:

- ``moving_average`` (paper-style): an exponential moving average of the plain mean of the
  validators' ratings, newcomers at 0.5, and the highest average asked first;
- ``yuma`` (Bittensor-like): the stake-weighted median of the ratings with ratings clipped
  above the consensus only (:class:`~llmnet.reputation.consensus.ClipRule` with no bound
  below), then the same moving average and greedy choice.

A batch of ``n`` observations of one provider moves its average as ``n`` equal steps towards
their mean: ``s <- (1 - r)^n s + (1 - (1 - r)^n) mean``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import NDArray

from llmnet.reputation.consensus import ClipRule, consensus_rows, normalize_scores
from llmnet.reputation.selection import ScoringPolicy, ThompsonSampling, policy_from_name, top_indices
from llmnet.sim.world import SimWorld

IntArray = NDArray[np.intp]
YUMA_CLIP = ClipRule(above=0.0, below=9.0)  # 9 points is the whole 1-10 scale: never clipped below
EMA_RATE = 0.1
BATCH_DRAWS_FROM = 256  # candidates from which Thompson draws only the few that can make a request's top k


class Selector(ABC):
    name: str

    @abstractmethod
    def choose(self, world: SimWorld, domain: int, m: int, k: int, rng: np.random.Generator) -> IntArray:
        """Provider indices of shape ``(m, k)``, best first per row."""

    def learn(self, world: SimWorld, domain: int, chosen: IntArray, ratings: NDArray[np.float64]) -> None:
        """Feedback beyond the ledger: ``ratings`` of shape ``(m, k, validators)``."""
        return None  # the bandit policies learn from the ledger alone


class BanditSelector(Selector):
    def __init__(self, name: str, domains: int, min_stake: int) -> None:
        self.name = name
        # one instance per domain: round-robin keeps a turn per domain, as a coordinator would
        self.policies: list[ScoringPolicy] = []
        for _ in range(domains):
            policy = policy_from_name(name, min_stake=min_stake)
            assert isinstance(policy, ScoringPolicy)
            self.policies.append(policy)

    def choose(self, world: SimWorld, domain: int, m: int, k: int, rng: np.random.Generator) -> IntArray:
        ev = world.evidence(domain)
        policy = self.policies[domain]
        ok = ev.stake >= policy.min_stake
        if isinstance(policy, ThompsonSampling):
            ok[ok] = policy.contenders(ev.alpha[ok], ev.beta[ok], ev.count[ok], k)
        shape = (m, int(ok.sum()))
        if isinstance(policy, ThompsonSampling) and shape[1] >= BATCH_DRAWS_FROM:
            return ev.providers[ok][policy.top_k_rows(ev.alpha[ok], ev.beta[ok], ev.count[ok], m, k, rng)]
        alpha, beta, count = (np.broadcast_to(x[ok], shape) for x in (ev.alpha, ev.beta, ev.count))
        if policy.stochastic or policy.stateful:
            order = policy.rank_arrays(alpha, beta, count, rng, k)
        else:  # every request of the batch gets the same ranking: compute it once
            order = np.broadcast_to(policy.rank_arrays(alpha[:1], beta[:1], count[:1], rng, k), (m, min(k, shape[1])))
        chosen: IntArray = ev.providers[ok][order]
        return chosen


class RatingAverageSelector(Selector):
    def __init__(self, name: str, providers: int, domains: int) -> None:
        self.name = name
        self.score = np.full((providers, domains), 0.5)

    def choose(self, world: SimWorld, domain: int, m: int, k: int, rng: np.random.Generator) -> IntArray:
        ev = world.evidence(domain)
        scores = np.broadcast_to(self.score[ev.providers, domain], (m, len(ev.providers)))
        chosen: IntArray = ev.providers[top_indices(scores, k)]
        return chosen

    def consensus(self, world: SimWorld, ratings: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per task and respondent, the score in [0, 1] this system derives from ``ratings``."""
        if self.name == "moving_average":
            return normalize_scores(ratings.mean(axis=-1))
        m, k, v = ratings.shape
        rows = consensus_rows(ratings.reshape(m * k, v), world.pop.validator_stake.astype(np.float64), YUMA_CLIP)
        return normalize_scores(rows.scores).reshape(m, k)

    def learn(self, world: SimWorld, domain: int, chosen: IntArray, ratings: NDArray[np.float64]) -> None:
        scores = self.consensus(world, ratings).ravel()
        flat = chosen.ravel()
        n = np.bincount(flat, minlength=self.score.shape[0]).astype(np.float64)
        total = np.bincount(flat, weights=scores, minlength=self.score.shape[0])
        seen = n > 0
        keep = (1.0 - EMA_RATE) ** n[seen]
        col = self.score[:, domain]
        col[seen] = keep * col[seen] + (1.0 - keep) * total[seen] / n[seen]


def make_selector(name: str, providers: int, domains: int, min_stake: int) -> Selector:
    if name in ("moving_average", "yuma"):
        return RatingAverageSelector(name, providers, domains)
    return BanditSelector(name, domains, min_stake)
