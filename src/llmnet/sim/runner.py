"""Run a scenario: every policy serves the same request stream in settlement-sized batches.

Per batch: read each domain's candidates from the ledger once, rank all of the batch's
requests at once, draw the answers' quality and the validators' ratings, score each task by
robust consensus, settle the batch on the ledger and fold the validators' trust. The next
batch sees the new reputation, as the live network sees a batch once it is settled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from llmnet.errors import InputError
from llmnet.reputation.beta import decay_from_float
from llmnet.reputation.outcome_rows import OutcomeRows
from llmnet.sim.scenario import Population, Scenario, build_population, request_domains
from llmnet.sim.selectors import IntArray, Selector, make_selector
from llmnet.sim.world import SimWorld

DECAY = 0.98  # the network's default reputation decay (Settings.reputation_decay)
Progress = Callable[[str, int, float], None]  # policy, requests done, expert share so far


@dataclass
class Trace:
    """What one policy did, per request (arrays of length ``requests``) and per batch."""

    policy: str
    domain: NDArray[np.int64]
    expert_share: NDArray[np.float64]  # share of the request's respondents that are experts of its domain
    attacker_share: NDArray[np.float64]
    chosen_quality: NDArray[np.float64]  # mean hidden quality of the respondents asked
    oracle_quality: NDArray[np.float64]  # the same for the best k who could have been asked
    delivered: NDArray[np.float64]  # mean realised quality of the answers
    batch_end: list[int]
    reputation: list[NDArray[np.float64]]  # per batch: posterior mean in domain 0 per provider (NaN: not a member)


def _empty_trace(policy: str, domains: NDArray[np.int64]) -> Trace:
    expert, attacker, chosen, oracle, delivered = (np.zeros(len(domains)) for _ in range(5))
    return Trace(policy, domains, expert, attacker, chosen, oracle, delivered, [], [])


def draw_ratings(pop: Population, chosen: IntArray, realised: NDArray[np.float64], noise: float,
                 rng: np.random.Generator) -> NDArray[np.float64]:  # fmt: skip
    """Ratings (m, k, V) on the 1-10 scale: honest, random and colluding validators."""
    m, k = chosen.shape
    v = len(pop.validator_kind)
    raw = realised[:, :, None] + pop.validator_bias[None, None, :] + noise * rng.standard_normal((m, k, v))
    ratings = 1.0 + 9.0 * np.clip(raw, 0.0, 1.0)
    for j, kind in enumerate(pop.validator_kind):
        if kind == "random":
            ratings[:, :, j] = rng.uniform(1.0, 10.0, (m, k))
        elif kind == "colluding":
            ratings[:, :, j] = np.where(chosen == pop.friend, 10.0, ratings[:, :, j])
    return ratings


def _oracle(pop: Population, upto: int, k: int) -> NDArray[np.float64]:
    """Per domain, the mean hidden quality of the best k providers registered by request ``upto``."""
    joined = (pop.joins_at <= upto)[:, None] & pop.member
    q = np.where(joined, pop.quality, -np.inf)
    best = -np.sort(-q, axis=0)[:k]
    return np.asarray(np.where(np.isfinite(best), best, 0.0).mean(axis=0))


def _reputation_snapshot(world: SimWorld) -> NDArray[np.float64]:
    snap = np.full(world.pop.n_providers, np.nan)
    ev = world.evidence(0)
    snap[ev.providers] = (ev.alpha + 1.0) / (ev.alpha + ev.beta + 2.0)
    return snap


class PolicyRun:
    """One policy through the whole request stream."""

    def __init__(self, s: Scenario, pop: Population, domains: NDArray[np.int64], name: str, index: int) -> None:
        self.s, self.pop, self.domains = s, pop, domains
        self.world = SimWorld(pop, decay_from_float(DECAY))
        self.selector: Selector = make_selector(name, pop.n_providers, s.n_domains, self.world.ledger.min_stake)
        self.rng = np.random.default_rng([s.seed, 3, index])
        self.trace = _empty_trace(name, domains)
        self.attackers = pop.attacker_mask()
        self._oracle: tuple[int, NDArray[np.float64]] = (-1, np.zeros(0))  # (providers joined, oracle)

    def run(self, progress: Progress | None = None) -> Trace:
        size = self.s.batch_size
        for start in range(0, self.s.requests, size):
            stop = min(start + size, self.s.requests)
            self.step(start, stop)
            if progress:
                progress(self.trace.policy, stop - start, float(self.trace.expert_share[:stop].mean()))
        return self.trace

    def step(self, start: int, stop: int) -> None:
        s, pop, world, t = self.s, self.pop, self.world, self.trace
        world.register_joining(start)
        joined = int((pop.joins_at <= start).sum())  # the joined grow as start does: their number says who
        if self._oracle[0] != joined:
            self._oracle = (joined, _oracle(pop, start, s.k))
        oracle = self._oracle[1]
        outcomes: list[OutcomeRows] = []
        for d in np.unique(self.domains[start:stop]):
            rows = start + np.flatnonzero(self.domains[start:stop] == d)
            chosen = self.selector.choose(world, int(d), len(rows), s.k, self.rng)
            quality = pop.quality[chosen, d]
            realised = np.clip(quality + s.answer_noise * self.rng.standard_normal(quality.shape), 0.0, 1.0)
            ratings = draw_ratings(pop, chosen, realised, s.rating_noise, self.rng)
            outcomes.append(world.outcomes(world.open_tasks(int(d), len(rows), s.k), int(d), chosen, ratings))
            self.selector.learn(world, int(d), chosen, ratings)
            t.expert_share[rows] = pop.expert[chosen, d].mean(axis=1)
            t.attacker_share[rows] = self.attackers[chosen].mean(axis=1)
            t.chosen_quality[rows] = quality.mean(axis=1)
            t.oracle_quality[rows] = oracle[d]
            t.delivered[rows] = realised.mean(axis=1)
        world.settle(outcomes)
        t.batch_end.append(stop)
        t.reputation.append(_reputation_snapshot(world))


def run_scenario(s: Scenario, progress: Progress | None = None) -> tuple[Population, list[Trace]]:
    pop = build_population(s)
    domains = request_domains(s)
    for d, members in enumerate(pop.member.sum(axis=0)):
        if members < s.k:
            raise InputError(
                f"domain d{d} has {members} providers but each request asks k={s.k}; raise --providers or lower --k"
            )
    return pop, [PolicyRun(s, pop, domains, name, i).run(progress) for i, name in enumerate(s.policies)]
