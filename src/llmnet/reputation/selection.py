"""Who answers a query: selection policies that rank the candidates of one domain.

A policy is one small class with one required method, :meth:`SelectionPolicy.rank`, which
orders candidates best first. The coordinator asks the first ``k`` and keeps the rest, in
order, as replacements for respondents that fail::

    policy = policy_from_name("thompson", min_stake=10**17)
    chosen = policy.select(candidates, k=3, rng=np.random.default_rng(0))

Policies that only need a score per candidate derive from :class:`ScoringPolicy` and
implement :meth:`ScoringPolicy.scores` on arrays (Beta evidence in whole observations,
i.e. ``RepState.alpha / 1e9``), so a simulation ranks thousands of candidates, or a batch
of requests at once (arrays of shape ``(requests, candidates)``), without Python loops.

Capabilities are class flags: ``explores`` (may put a candidate other than the best known
first, so newcomers get tried), ``stochastic`` (uses the ``rng``), ``stateful`` (the
ranking depends on earlier calls).
"""

from __future__ import annotations

import difflib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from llmnet.errors import ConfigError, InputError
from llmnet.reputation.beta import UNIT
from llmnet.reputation.thompson_batch import budget_top_k
from llmnet.types import Candidate

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]


class SelectionPolicy(ABC):
    """Ranks candidates best first. Subclasses implement :meth:`rank` and start it with
    :meth:`eligible`, which drops candidates staked below ``min_stake``."""

    name: ClassVar[str] = ""
    explores: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False
    stateful: ClassVar[bool] = False

    def __init__(self, *, min_stake: int = 0) -> None:
        if min_stake < 0:
            raise InputError(f"min_stake must be 0 or more, got {min_stake}")
        self.min_stake = min_stake

    @abstractmethod
    def rank(self, candidates: Sequence[Candidate], rng: np.random.Generator) -> list[Candidate]:
        """The eligible candidates, best first."""

    def eligible(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        return [c for c in candidates if c.stake >= self.min_stake]

    def select(self, candidates: Sequence[Candidate], k: int, rng: np.random.Generator) -> list[Candidate]:
        """The first ``k`` of :meth:`rank` (fewer when fewer are eligible)."""
        if k < 0:
            raise InputError(f"k must be 0 or more, got {k}")
        return self.rank(self.eligible(candidates), rng)[:k]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(min_stake={self.min_stake})"


def evidence_arrays(candidates: Sequence[Candidate]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(alpha, beta, count)`` of the candidates as float arrays, evidence in whole observations."""
    alpha = np.array([c.reputation.alpha / UNIT for c in candidates], dtype=np.float64)
    beta = np.array([c.reputation.beta / UNIT for c in candidates], dtype=np.float64)
    count = np.array([c.reputation.count for c in candidates], dtype=np.float64)
    return alpha, beta, count


def top_indices(scores: FloatArray, k: int | None = None) -> IndexArray:
    """Indices of the highest scores along the last axis, best first; ties keep input order.

    With ``k`` only the best ``k`` are sorted (``argpartition``), which is what a large
    simulation wants.
    """
    n = scores.shape[-1]
    if k is None or k >= n:
        return np.argsort(-scores, axis=-1, kind="stable")
    if k <= 0:
        return np.empty((*scores.shape[:-1], 0), dtype=np.intp)
    part = np.argpartition(-scores, k - 1, axis=-1)[..., :k]
    best = np.take_along_axis(scores, part, axis=-1)
    # ties inside the top k go to the lower index, as in the full sort
    order = np.lexsort((part, -best), axis=-1)
    return np.take_along_axis(part, order, axis=-1)


def thompson_rank_arrays(
    alpha: FloatArray,
    beta: FloatArray,
    rng: np.random.Generator,
    *,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
    k: int | None = None,
) -> IndexArray:
    """Thompson sampling on arrays: one Beta draw per candidate, indices by draw, best first.

    ``alpha`` and ``beta`` are evidence in whole observations (``RepState.alpha / 1e9``);
    shape ``(n,)`` ranks one request, ``(m, n)`` ranks ``m`` requests independently.

    >>> thompson_rank_arrays(np.array([50.0, 0.0]), np.array([2.0, 0.0]), np.random.default_rng(1))
    array([0, 1])
    """
    return top_indices(rng.beta(alpha + prior_alpha, beta + prior_beta), k)


def posterior_mean(alpha: FloatArray, beta: FloatArray, prior_alpha: float, prior_beta: float) -> FloatArray:
    a = alpha + prior_alpha
    return a / (a + beta + prior_beta)


class ScoringPolicy(SelectionPolicy):
    """A policy that gives each candidate a score; the higher, the earlier it is asked."""

    def __init__(self, *, min_stake: int = 0, prior_alpha: float = 1.0, prior_beta: float = 1.0) -> None:
        super().__init__(min_stake=min_stake)
        if prior_alpha <= 0 or prior_beta <= 0:
            raise InputError(f"Beta priors must be positive, got ({prior_alpha}, {prior_beta})")
        self.prior_alpha, self.prior_beta = prior_alpha, prior_beta

    @abstractmethod
    def scores(self, alpha: FloatArray, beta: FloatArray, count: FloatArray, rng: np.random.Generator) -> FloatArray:
        """A score per candidate along the last axis (same shape as ``alpha``)."""

    def rank_arrays(
        self,
        alpha: FloatArray,
        beta: FloatArray,
        count: FloatArray,
        rng: np.random.Generator,
        k: int | None = None,
    ) -> IndexArray:
        """Candidate indices best first (the best ``k`` only, if given); no stake filter."""
        return top_indices(self.scores(alpha, beta, count, rng), k)

    def rank(self, candidates: Sequence[Candidate], rng: np.random.Generator) -> list[Candidate]:
        pool, evidence = self._evidence(candidates)
        if not pool:
            return []
        order = self.rank_arrays(*evidence, rng)
        return [pool[i] for i in order]

    def _evidence(
        self, candidates: Sequence[Candidate]
    ) -> tuple[list[Candidate], tuple[FloatArray, FloatArray, FloatArray]]:
        # A coordinator ranks the same cached candidate list for every request until the chain
        # is read again; its eligible pool and evidence arrays are built once per list.
        cached = getattr(self, "_last_evidence", None)
        if cached is not None and cached[0] is candidates:
            return cached[1], cached[2]
        pool = self.eligible(candidates)
        evidence = evidence_arrays(pool)
        if isinstance(candidates, tuple | list):  # holding it keeps its identity from being reused
            self._last_evidence = (candidates, pool, evidence)
        return pool, evidence

    def _mean(self, alpha: FloatArray, beta: FloatArray) -> FloatArray:
        return posterior_mean(alpha, beta, self.prior_alpha, self.prior_beta)


EVIDENCE_WEIGHT = 5.0
NEWCOMER_SHARE = 0.1
PROVEN_AFTER = 5


class ThompsonSampling(ScoringPolicy):
    """Rank by a draw from each candidate's Beta posterior: strong providers win most draws,
    while uncertain ones (newcomers under the Beta(1, 1) prior) still get picked sometimes.

    ``evidence_weight``: how many coin flips one recorded observation is worth. The book
    records a consensus score in [0, 1] per task as one fractional success; a median of several
    validators' ratings varies far less than a coin flip (variance ~0.01 against ~0.25), so
    counting it once leaves every posterior too wide and keeps asking weak providers long
    after the evidence is in. ``llmnet sim`` measured the share of traffic to experts after 100
    requests per domain at 73.8 % and 79.8 % with weight 1, 93.0 % and 96.1 % with 5 (seeds 0, 1).

    ``newcomer_share``, ``proven_after``: the exploration budget (see :meth:`_budget`). In
    ``llmnet sim`` (seeds 0-2) a swarm of 20 fresh low-quality identities joining half-way took
    31 % of the traffic in the tenth of requests after it joined without the budget, 6.4 % with
    a share of 0.1; without attackers the share to experts after warm-up rose from 95.1 % to
    96.0 % and regret fell from 70.7 to 57.4, because general models that had proven mediocre no
    longer lost their places to untried ones every other request."""

    name = "thompson"
    explores = True
    stochastic = True

    def __init__(
        self,
        evidence_weight: float = EVIDENCE_WEIGHT,
        *,
        newcomer_share: float = NEWCOMER_SHARE,
        proven_after: int = PROVEN_AFTER,
        min_stake: int = 0,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
    ) -> None:
        super().__init__(min_stake=min_stake, prior_alpha=prior_alpha, prior_beta=prior_beta)
        if not (math.isfinite(evidence_weight) and evidence_weight > 0):
            raise InputError(f"evidence_weight must be a positive number, got {evidence_weight!r}")
        if not 0.0 <= newcomer_share <= 1.0:
            raise InputError(f"newcomer_share must be in [0, 1], got {newcomer_share!r}")
        if proven_after < 0:
            raise InputError(f"proven_after must be 0 or more, got {proven_after!r}")
        self.evidence_weight = evidence_weight
        self.newcomer_share, self.proven_after = newcomer_share, proven_after

    def posterior(self, alpha: FloatArray, beta: FloatArray) -> tuple[FloatArray, FloatArray]:
        w = self.evidence_weight
        return w * alpha + self.prior_alpha, w * beta + self.prior_beta

    def scores(self, alpha: FloatArray, beta: FloatArray, count: FloatArray, rng: np.random.Generator) -> FloatArray:
        return self._budget(self._draws(alpha, beta, rng), count, rng)

    def _draws(self, alpha: FloatArray, beta: FloatArray, rng: np.random.Generator) -> FloatArray:
        a, b = self.posterior(alpha, beta)
        fresh = (alpha == 0) & (beta == 0)
        if self.prior_alpha != 1.0 or self.prior_beta != 1.0 or not fresh.any():
            return rng.beta(a, b)
        # Beta(1, 1) is uniform: a newcomer's draw costs a uniform number, not two gamma draws
        draws: FloatArray = rng.random(np.shape(a))
        seen = ~fresh
        draws[seen] = rng.beta(a[seen], b[seen])
        return draws

    def _budget(self, draws: FloatArray, count: FloatArray, rng: np.random.Generator) -> FloatArray:
        """The exploration budget: outside a ``newcomer_share`` of requests, candidates with
        fewer than ``proven_after`` observations rank after every proven one (they still fill
        the places proven candidates cannot). However many fresh identities join, together
        they are first asked on about that share of requests until each has a record."""
        if self.newcomer_share >= 1.0:
            return draws
        unproven = np.broadcast_to(count < self.proven_after, draws.shape)
        if unproven.all() or not unproven.any():
            return draws
        held = rng.random(draws.shape[:-1]) >= self.newcomer_share
        return draws - (held[..., None] & unproven)

    def top_k_rows(self, alpha: FloatArray, beta: FloatArray, count: FloatArray, m: int, k: int,
                   rng: np.random.Generator) -> IndexArray:  # fmt: skip
        """The best ``k`` (shape ``(m, k)``) of ``m`` independent rankings of the same candidates:
        the law of :meth:`rank_arrays` over ``m`` copies of ``(alpha, beta, count)``, exploration
        budget included, drawing about eight Betas per ranking instead of one per candidate (see
        :mod:`llmnet.reputation.thompson_batch`)."""
        a, b = self.posterior(alpha, beta)
        return budget_top_k(a, b, self._proven(count), m, k, rng, self.newcomer_share)

    def _proven(self, count: FloatArray) -> NDArray[np.bool_]:
        proven: NDArray[np.bool_] = count >= self.proven_after
        return proven

    def contenders(self, alpha: FloatArray, beta: FloatArray, count: FloatArray, k: int,
                   z: float = 4.0) -> NDArray[np.bool_]:  # fmt: skip
        """Candidates (shape ``(n,)``) with a real chance of a top-``k`` draw: those whose
        posterior mean + ``z`` standard deviations reaches the ``k``-th best mean - ``z``
        standard deviations. Ranking only these changes a ranking with probability of the
        order of the normal tail beyond ``z`` (3e-5 for 4); a simulation ranking thousands of
        candidates per request draws for the few that matter. When the exploration budget applies
        (some candidates proven, some not), a held request ranks the proven among themselves, so
        the bar is the ``k``-th best of the proven (at most the bar over all: it keeps more), and
        there is none while fewer than ``k`` are proven."""
        a, b = self.posterior(alpha, beta)
        mean, sd = a / (a + b), np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        low, high = mean - z * sd, mean + z * sd
        proven = self._proven(count)
        if self.newcomer_share < 1.0 and 0 < proven.sum() < len(low):
            low = np.where(proven, low, -np.inf)
        if k >= len(low) or not np.isfinite(bar := -np.partition(-low, k - 1)[k - 1]):
            return np.ones(len(low), dtype=bool)
        keep: NDArray[np.bool_] = high >= bar
        return keep


class Greedy(ScoringPolicy):
    """Rank by posterior mean; equal means keep the input order."""

    name = "greedy"

    def scores(self, alpha: FloatArray, beta: FloatArray, count: FloatArray, rng: np.random.Generator) -> FloatArray:
        return self._mean(alpha, beta)


class EpsilonGreedy(ScoringPolicy):
    """Greedy, except that with probability ``epsilon`` a request gets a random order."""

    name = "epsilon_greedy"
    explores = True
    stochastic = True

    def __init__(
        self, epsilon: float = 0.1, *, min_stake: int = 0, prior_alpha: float = 1.0, prior_beta: float = 1.0
    ) -> None:
        super().__init__(min_stake=min_stake, prior_alpha=prior_alpha, prior_beta=prior_beta)
        if not 0.0 <= epsilon <= 1.0:
            raise InputError(f"epsilon must be in [0, 1], got {epsilon}")
        self.epsilon = epsilon

    def scores(self, alpha: FloatArray, beta: FloatArray, count: FloatArray, rng: np.random.Generator) -> FloatArray:
        explore = rng.random(alpha.shape[:-1]) < self.epsilon
        # random scores lie in [2, 3), above every mean, so an exploring row is wholly random
        noise = 2.0 + rng.random(alpha.shape)
        return np.where(explore[..., None], noise, self._mean(alpha, beta))


class UCB(ScoringPolicy):
    """Upper confidence bound: ``mean + c * sqrt(ln(N) / (n + 1))`` where ``n`` is the
    candidate's observation count and ``N = 1 + `` the total count of the pool."""

    name = "ucb"
    explores = True

    def __init__(
        self, c: float = 1.0, *, min_stake: int = 0, prior_alpha: float = 1.0, prior_beta: float = 1.0
    ) -> None:
        super().__init__(min_stake=min_stake, prior_alpha=prior_alpha, prior_beta=prior_beta)
        if c < 0:
            raise InputError(f"the exploration constant c must be 0 or more, got {c}")
        self.c = c

    def scores(self, alpha: FloatArray, beta: FloatArray, count: FloatArray, rng: np.random.Generator) -> FloatArray:
        total = 1.0 + count.sum(axis=-1, keepdims=True)
        bonus: FloatArray = np.sqrt(np.log(total) / (count + 1.0))
        return self._mean(alpha, beta) + self.c * bonus


class RandomPolicy(ScoringPolicy):
    """A uniformly random order, ignoring reputation: the baseline."""

    name = "random"
    explores = True
    stochastic = True

    def scores(self, alpha: FloatArray, beta: FloatArray, count: FloatArray, rng: np.random.Generator) -> FloatArray:
        return rng.random(alpha.shape)


class RoundRobin(ScoringPolicy):
    """Takes turns: each ranking starts one place further along the (eligible) list.

    Stateful: the instance counts the rankings it has made (a batch of ``m`` requests
    counts ``m``), so share one instance per domain and do not expect thread safety.
    """

    name = "round_robin"
    explores = True
    stateful = True

    def __init__(self, *, min_stake: int = 0) -> None:
        super().__init__(min_stake=min_stake)
        self.turn = 0

    def scores(self, alpha: FloatArray, beta: FloatArray, count: FloatArray, rng: np.random.Generator) -> FloatArray:
        n = alpha.shape[-1]
        rows = int(np.prod(alpha.shape[:-1], dtype=np.int64))
        starts = (self.turn + np.arange(rows)).reshape((*alpha.shape[:-1], 1))
        self.turn += rows
        # the candidate at the start position scores highest, then the next, wrapping around
        distance: FloatArray = ((np.arange(n) - starts) % max(n, 1)).astype(np.float64)
        return -distance


PolicyFactory = Callable[..., SelectionPolicy]

_POLICIES: dict[str, PolicyFactory] = {}


def register_policy(name: str, factory: PolicyFactory) -> None:
    """Make ``policy_from_name(name, **options)`` call ``factory(**options)``; re-registering replaces."""
    if not name:
        raise InputError("a selection policy needs a non-empty name")
    _POLICIES[name] = factory


def policy_names() -> list[str]:
    return sorted(_POLICIES)


def policy_from_name(name: str, **options: object) -> SelectionPolicy:
    """A policy by its registered name, e.g. ``policy_from_name("ucb", c=0.5)``."""
    try:
        factory = _POLICIES[name]
    except KeyError:
        message = f"unknown selection policy {name!r}; known policies: {', '.join(policy_names())}"
        close = difflib.get_close_matches(name, _POLICIES, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        raise ConfigError(message) from None
    return factory(**options)


for _cls in (ThompsonSampling, Greedy, EpsilonGreedy, UCB, RandomPolicy, RoundRobin):
    register_policy(_cls.name, _cls)
