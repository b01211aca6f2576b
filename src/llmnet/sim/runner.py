"""Run a scenario: every policy serves the same request stream in settlement-sized batches.

Per batch: read each domain's candidates from the ledger once, rank all of the batch's
requests at once, draw the answers' quality and the validators' ratings, score each task by
robust consensus, settle the batch on the ledger and fold the validators' trust. The next
batch sees the new reputation, as the live network sees a batch once it is settled.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

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
    final: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))  # realised quality of the best-rated
    # per validator at the end of the run: its trust, and its share of the consensus weight (stake x trust ** power)
    validator_trust: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    validator_share: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


def _empty_trace(policy: str, domains: NDArray[np.int64]) -> Trace:
    expert, attacker, chosen, oracle, delivered = (np.zeros(len(domains)) for _ in range(5))
    return Trace(policy, domains, expert, attacker, chosen, oracle, delivered, [], [], np.zeros(len(domains)))


@dataclass(frozen=True)
class Answers:
    """What the respondents asked for a group of requests delivered, each of shape ``(m, k)``
    (``ratings`` ``(m, k, validators)`` on the 1-10 scale)."""

    quality: NDArray[np.float64]  # the respondents' hidden mean quality in the domain
    realised: NDArray[np.float64]  # the quality of these answers, in [0, 1]
    ratings: NDArray[np.float64]


class AnswerSource(ABC):
    """Where answers and their ratings come from: drawn from hidden quality, or real models."""

    @abstractmethod
    def answer(self, domain: int, rows: NDArray[np.intp], chosen: IntArray, rng: np.random.Generator) -> Answers:
        """The answers of ``chosen[i]`` to request ``rows[i]`` of ``domain``, and the validators' ratings."""


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


class DrawnAnswers(AnswerSource):
    """The default sim: an answer's quality is the respondent's hidden quality plus noise, and
    validators rate it with their bias and noise (:func:`draw_ratings`)."""

    def __init__(self, s: Scenario, pop: Population) -> None:
        self.s, self.pop = s, pop

    def answer(self, domain: int, rows: NDArray[np.intp], chosen: IntArray, rng: np.random.Generator) -> Answers:
        quality = self.pop.quality[chosen, domain]
        realised = np.clip(quality + self.s.answer_noise * rng.standard_normal(quality.shape), 0.0, 1.0)
        return Answers(quality, realised, draw_ratings(self.pop, chosen, realised, self.s.rating_noise, rng))


def best_rated(outcomes: OutcomeRows) -> NDArray[np.intp]:
    """Per task, the column of its respondents whose answer got the highest consensus score: the
    answer the requester receives (the first of equals, as the coordinator ranks them)."""
    best: NDArray[np.intp] = np.argmax(outcomes.scores, axis=1)
    return best


class PolicyRun:
    """One policy through the whole request stream."""

    def __init__(self, s: Scenario, pop: Population, domains: NDArray[np.int64], name: str, index: int,
                 source: AnswerSource | None = None) -> None:  # fmt: skip
        self.s, self.pop, self.domains = s, pop, domains
        self.source = source or DrawnAnswers(s, pop)
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
        trust = self.world.keeper.trust
        self.trace.validator_trust = np.array([trust.get(v.address, np.nan) for v in self.world.validators])
        weights = self.world.validator_weights()
        self.trace.validator_share = weights / weights.sum() if weights.sum() > 0 else np.zeros(len(weights))
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
            got = self.source.answer(int(d), rows, chosen, self.rng)
            scored = world.outcomes(world.open_tasks(int(d), len(rows), s.k), int(d), chosen, got.ratings)
            outcomes.append(scored)
            self.selector.learn(world, int(d), chosen, got.ratings)
            t.expert_share[rows] = pop.expert[chosen, d].mean(axis=1)
            t.attacker_share[rows] = self.attackers[chosen].mean(axis=1)
            t.chosen_quality[rows] = got.quality.mean(axis=1)
            t.oracle_quality[rows] = oracle[d]
            t.delivered[rows] = got.realised.mean(axis=1)
            t.final[rows] = got.realised[np.arange(len(rows)), best_rated(scored)]
        world.settle(outcomes)
        t.batch_end.append(stop)
        t.reputation.append(_reputation_snapshot(world))


def run_scenario(s: Scenario, progress: Progress | None = None) -> tuple[Population, list[Trace]]:
    pop = build_population(s)
    return pop, run_policies(s, pop, request_domains(s), DrawnAnswers(s, pop), progress)


def run_policies(s: Scenario, pop: Population, domains: NDArray[np.int64], source: AnswerSource,
                 progress: Progress | None = None) -> list[Trace]:  # fmt: skip
    """Every policy of ``s`` through the same request stream, answered by ``source``."""
    for d, members in enumerate(pop.member.sum(axis=0)):
        if members < s.k:
            raise InputError(
                f"domain {pop.domain_names[d]} has {members} providers but each request asks k={s.k}; "
                "raise --providers or lower --k"
            )
    return [PolicyRun(s, pop, domains, name, i, source).run(progress) for i, name in enumerate(s.policies)]
