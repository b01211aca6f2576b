from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest

from llmnet.errors import ConfigError, InputError
from llmnet.reputation import selection
from llmnet.reputation.beta import UNIT, RepState
from llmnet.reputation.selection import (
    UCB,
    EpsilonGreedy,
    Greedy,
    RandomPolicy,
    RoundRobin,
    SelectionPolicy,
    ThompsonSampling,
    policy_from_name,
    policy_names,
    register_policy,
    thompson_rank_arrays,
    top_indices,
)
from llmnet.types import Candidate


def cand(name: str, alpha: float = 0.0, beta: float = 0.0, count: int | None = None, stake: int = 100) -> Candidate:
    n = round(alpha + beta) if count is None else count
    return Candidate(name, stake, RepState(round(alpha * UNIT), round(beta * UNIT), n))


def names(ranked: list[Candidate]) -> list[str]:
    return [c.provider for c in ranked]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_thompson_tries_newcomers_but_the_strong_incumbent_wins_most() -> None:
    pool = [cand("incumbent", 50, 2), cand("newcomer")]
    policy, r = ThompsonSampling(), rng(7)
    firsts = Counter(policy.select(pool, 1, r)[0].provider for _ in range(2000))
    assert firsts["newcomer"] > 0
    assert firsts["incumbent"] > 1500


def test_thompson_on_arrays_matches_the_class() -> None:
    pool = [cand("a", 3, 1), cand("b", 0, 0), cand("c", 10, 10)]
    by_class = names(ThompsonSampling(evidence_weight=1.0, newcomer_share=1.0).rank(pool, rng(3)))
    alpha, beta = np.array([3.0, 0.0, 10.0]), np.array([1.0, 0.0, 10.0])
    by_arrays = [pool[i].provider for i in thompson_rank_arrays(alpha, beta, rng(3))]
    assert by_class == by_arrays


def newcomer_rows(policy: ThompsonSampling, proven: int, fresh: int, k: int, rows: int = 20_000) -> float:
    """Share of ``rows`` requests whose first ``k`` include a newcomer: ``proven`` mediocre
    incumbents (mean 0.5, 20 observations) against ``fresh`` identities with no record."""
    alpha = np.array([10.0] * proven + [0.0] * fresh)
    count = np.array([20.0] * proven + [0.0] * fresh)
    shape = (rows, proven + fresh)
    order = policy.rank_arrays(np.broadcast_to(alpha, shape), np.broadcast_to(alpha, shape),
                               np.broadcast_to(count, shape), rng(5), k=k)  # fmt: skip
    return float(np.mean((order >= proven).any(axis=1)))


def test_the_exploration_budget_caps_what_a_swarm_of_newcomers_wins() -> None:
    unbudgeted = newcomer_rows(ThompsonSampling(newcomer_share=1.0), proven=3, fresh=20, k=2)
    budgeted = newcomer_rows(ThompsonSampling(newcomer_share=0.1), proven=3, fresh=20, k=2)
    assert unbudgeted > 0.9  # twenty uniform draws nearly always beat a posterior around 0.5
    assert 0.08 < budgeted < 0.12  # the budget, whatever the swarm's size
    assert newcomer_rows(ThompsonSampling(newcomer_share=0.1), proven=3, fresh=200, k=2) < 0.12


def test_newcomers_still_fill_places_the_proven_cannot_and_have_a_fresh_network_to_themselves() -> None:
    policy = ThompsonSampling(newcomer_share=0.1)
    assert newcomer_rows(policy, proven=1, fresh=5, k=2) == 1.0  # one incumbent, two places
    assert newcomer_rows(policy, proven=0, fresh=5, k=2) == 1.0
    with pytest.raises(InputError, match="newcomer_share"):
        ThompsonSampling(newcomer_share=1.5)
    with pytest.raises(InputError, match="proven_after"):
        ThompsonSampling(proven_after=-1)


def test_thompson_ranks_a_batch_of_requests_at_once() -> None:
    alpha = np.tile(np.array([50.0, 0.0, 5.0]), (1000, 1))
    beta = np.tile(np.array([2.0, 0.0, 5.0]), (1000, 1))
    order = thompson_rank_arrays(alpha, beta, rng(1), k=2)
    assert order.shape == (1000, 2)
    firsts = np.bincount(order[:, 0], minlength=3)
    assert firsts[0] > 700 and firsts[1] > 0
    assert np.all(order[:, 0] != order[:, 1])


def test_top_indices_with_k_agrees_with_a_full_sort() -> None:
    scores = rng(5).random((20, 50))
    scores[:, 3] = scores[:, 7] = 2.0  # a tie at the top goes to the lower index
    assert np.array_equal(top_indices(scores, 5), top_indices(scores)[:, :5])
    assert top_indices(scores, 0).shape == (20, 0)


def test_greedy_picks_the_best_mean_and_keeps_order_on_ties() -> None:
    pool = [cand("new1"), cand("poor", 1, 9), cand("best", 9, 1), cand("new2"), cand("good", 6, 4)]
    assert names(Greedy().rank(pool, rng())) == ["best", "good", "new1", "new2", "poor"]
    assert names(Greedy().select(pool, 2, rng())) == ["best", "good"]


def test_min_stake_excludes_small_stakes() -> None:
    pool = [cand("rich", 1, 5, stake=1000), cand("poor_but_good", 9, 0, stake=10), cand("exact", stake=500)]
    for name in policy_names():
        ranked = policy_from_name(name, min_stake=500).rank(pool, rng())
        assert sorted(names(ranked)) == ["exact", "rich"], name
    assert names(Greedy(min_stake=500).select(pool, 5, rng())) == ["exact", "rich"]


def test_seeded_rng_gives_the_same_ranking() -> None:
    pool = [cand(f"p{i}", i, 10 - i) for i in range(10)]
    for policy in (ThompsonSampling(), EpsilonGreedy(0.5), RandomPolicy(), UCB(2.0)):
        assert names(policy.rank(pool, rng(42))) == names(policy.rank(pool, rng(42)))


def test_ucb_prefers_the_unexplored() -> None:
    pool = [cand("veteran", 70, 30), cand("unexplored")]
    assert names(UCB(c=1.0).rank(pool, rng())) == ["unexplored", "veteran"]
    # without the exploration bonus the better mean wins
    assert names(UCB(c=0.0).rank(pool, rng())) == ["veteran", "unexplored"]


def test_epsilon_greedy_is_greedy_at_zero_and_explores_otherwise() -> None:
    pool = [cand("best", 9, 1), cand("other", 1, 9), cand("third", 2, 8)]
    assert all(EpsilonGreedy(0.0).select(pool, 1, rng(i))[0].provider == "best" for i in range(50))
    r = rng(11)
    firsts = Counter(EpsilonGreedy(0.3).select(pool, 1, r)[0].provider for _ in range(1000))
    assert 700 < firsts["best"] < 950 and firsts["other"] > 0


def test_random_policy_spreads_picks() -> None:
    pool = [cand(f"p{i}", 10 * i, 1) for i in range(4)]
    r = rng(2)
    firsts = Counter(RandomPolicy().select(pool, 1, r)[0].provider for _ in range(2000))
    assert set(firsts) == {"p0", "p1", "p2", "p3"} and min(firsts.values()) > 400


def test_round_robin_takes_turns() -> None:
    pool = [cand("a"), cand("b"), cand("c")]
    policy = RoundRobin()
    assert [names(policy.rank(pool, rng())) for _ in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]
    assert policy.stateful and not ThompsonSampling.stateful


def test_capability_flags() -> None:
    assert ThompsonSampling.explores and ThompsonSampling.stochastic
    assert not Greedy.explores and not Greedy.stochastic
    assert UCB.explores and not UCB.stochastic


def test_select_edge_cases() -> None:
    pool = [cand("a", 1, 0), cand("b", 0, 1)]
    assert ThompsonSampling().select([], 3, rng()) == []
    assert names(Greedy().select(pool, 10, rng())) == ["a", "b"]
    assert Greedy().select(pool, 0, rng()) == []
    with pytest.raises(InputError, match="k must be"):
        Greedy().select(pool, -1, rng())
    with pytest.raises(InputError, match="min_stake"):
        Greedy(min_stake=-1)
    with pytest.raises(InputError, match="epsilon"):
        EpsilonGreedy(1.5)


def test_policy_registry() -> None:
    assert {"thompson", "greedy", "epsilon_greedy", "ucb", "random", "round_robin"} <= set(policy_names())
    policy = policy_from_name("ucb", c=0.5)
    assert isinstance(policy, UCB) and policy.c == 0.5
    with pytest.raises(ConfigError, match=r"unknown selection policy 'thompsen'.*thompson.*did you mean"):
        policy_from_name("thompsen")


def test_a_custom_policy_registers_like_the_built_in_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    class Alphabetical(SelectionPolicy):
        def rank(self, candidates: Sequence[Candidate], rng: np.random.Generator) -> list[Candidate]:
            return sorted(self.eligible(candidates), key=lambda c: c.provider)

    monkeypatch.setattr(selection, "_POLICIES", dict(selection._POLICIES))  # keep the registry clean
    register_policy("alphabetical", Alphabetical)
    pool = [cand("zed"), cand("amy", stake=1), cand("bob")]
    assert names(policy_from_name("alphabetical", min_stake=50).select(pool, 5, rng())) == ["bob", "zed"]


def test_a_specialist_new_to_the_domain_starts_ahead_of_generalists_new_to_it() -> None:
    from llmnet.reputation.specialists import specialists_first

    fresh = RepState(0, 0, 0)
    proven = RepState(8 * UNIT, 2 * UNIT, 10)
    ranked = [Candidate("g1", 1, fresh), Candidate("p", 1, proven), Candidate("g2", 1, fresh), Candidate("s", 1, fresh)]
    out = [c.provider for c in specialists_first(ranked, frozenset({"s"}))]
    assert out == ["s", "p", "g1", "g2"]  # the proven one keeps its place; newcomers: specialist first
    assert [c.provider for c in specialists_first(ranked, frozenset())] == ["g1", "p", "g2", "s"]
    seasoned = [Candidate("g1", 1, fresh), Candidate("s", 1, RepState(UNIT, 9 * UNIT, 10))]
    assert [c.provider for c in specialists_first(seasoned, frozenset({"s"}))] == ["g1", "s"]  # judged on record
