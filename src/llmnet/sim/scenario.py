"""What a simulation runs: who provides, who rates, who asks (plain data, seeded).

A scenario fixes the population once per seed, and every policy then serves the same
request stream, so their differences come from selection alone.

Respondents: ``experts_per_domain`` experts per domain (hidden quality ``expert_quality``
in their own domain, registered only there) and general models (``general_quality`` in
every domain, each registered in ``general_domains`` domains). Attackers (optional):
``lazy`` providers (short generic answers, quality ``0.2``, registered everywhere), a
``sybil`` swarm of 20 low-quality fresh identities joining half-way, a ``random``
validator rating at random, and ``colluding`` validators (under a third of the stake)
rating a lazy friend 10.

Validators rate on the network's 1-10 scale: ``1 + 9 * (quality + bias + noise)``,
clipped, with a fixed bias per validator and fresh noise per rating.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from llmnet.errors import InputError

ATTACKS = ("lazy", "sybil", "random", "colluding")
BASELINES = ("random", "round_robin", "greedy", "epsilon_greedy", "ucb", "moving_average", "yuma")
LLMNET_POLICY = "thompson"  # the coordinator's default policy, fed by robust consensus and trust
POLICIES = (LLMNET_POLICY, *BASELINES)
SYBILS = 20
MEMBERS_PER_DOMAIN = 1000


@dataclass(frozen=True)
class Scenario:
    providers: int = 50
    requests: int = 2000
    domains: int = 0  # 0: 5, or more when needed to keep domains within the registry's 1024 members
    seed: int = 0
    k: int = 2
    experts_per_domain: int = 3
    general_domains: int = 3
    expert_quality: tuple[float, float] = (0.8, 0.95)
    general_quality: tuple[float, float] = (0.45, 0.7)
    answer_noise: float = 0.1
    validators: int = 5
    rating_noise: float = 0.08
    rating_bias: float = 0.05
    batch: int = 0  # requests per settlement batch; 0 picks max(20, requests // 200)
    policies: tuple[str, ...] = POLICIES
    attackers: tuple[str, ...] = ()
    warmup_per_domain: int = 100  # "after 100 requests per domain"

    def __post_init__(self) -> None:
        checks = {
            "providers": self.providers >= 1, "requests": self.requests >= 1, "domains": 0 <= self.domains <= 64,
            "k": self.k >= 1, "validators": self.validators >= 1, "batch": self.batch >= 0,
            "experts_per_domain": self.experts_per_domain >= 0, "general_domains": self.general_domains >= 1,
        }  # fmt: skip
        for name, ok in checks.items():
            if not ok:
                raise InputError(f"--{name.replace('_', '-')} {getattr(self, name)} is out of range; see --help")
        if self.experts_per_domain * self.n_domains > self.providers:
            raise InputError(
                f"{self.n_domains} domains x {self.experts_per_domain} experts need at least "
                f"{self.n_domains * self.experts_per_domain} providers, got --providers {self.providers}"
            )
        for attack in self.attackers:
            if attack not in ATTACKS:
                raise InputError(f"unknown attacker {attack!r}; choose from {', '.join(ATTACKS)}")
        for policy in self.policies:
            if policy not in POLICIES:
                raise InputError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
        if not self.policies:
            raise InputError("give at least one policy")

    @property
    def n_domains(self) -> int:
        """``domains``, or when 0: 5, raised so that general models spread over the domains leave
        about 1,000 members per domain (the registry holds at most 1,024 per domain)."""
        return self.domains or max(5, -(-self.providers * self.general_domains // MEMBERS_PER_DOMAIN))

    @property
    def batch_size(self) -> int:
        return self.batch or max(20, self.requests // 200)


@dataclass(frozen=True)
class Population:
    """The hidden truth of one scenario. Providers are indexed 0..P-1 (sybils last)."""

    quality: NDArray[np.float64]  # (P, D) mean answer quality in [0, 1]
    member: NDArray[np.bool_]  # (P, D) registered in the domain
    expert: NDArray[np.bool_]  # (P, D) a true expert of the domain
    kind: tuple[str, ...]  # per provider: expert, general, lazy, sybil
    joins_at: NDArray[np.int64]  # (P,) request index at which the provider registers
    validator_bias: NDArray[np.float64]  # (V,)
    validator_kind: tuple[str, ...]  # honest, random, colluding
    validator_stake: NDArray[np.int64]  # (V,) wei
    friend: int = -1  # the provider colluding validators inflate
    domain_names: tuple[str, ...] = field(default=())

    @property
    def n_providers(self) -> int:
        return int(self.quality.shape[0])

    def attacker_mask(self) -> NDArray[np.bool_]:
        return np.array([k in ("lazy", "sybil") for k in self.kind])


def _providers(
    s: Scenario, rng: np.random.Generator
) -> tuple[list[str], list[NDArray[np.float64]], list[NDArray[np.bool_]]]:
    kinds: list[str] = []
    quality: list[NDArray[np.float64]] = []
    member: list[NDArray[np.bool_]] = []
    for d in range(s.n_domains):
        for _ in range(s.experts_per_domain):
            q = rng.uniform(*s.general_quality, s.n_domains)
            q[d] = rng.uniform(*s.expert_quality)
            kinds.append("expert")
            quality.append(q)
            member.append(np.arange(s.n_domains) == d)
    for _ in range(s.providers - len(kinds)):
        kinds.append("general")
        quality.append(rng.uniform(*s.general_quality, s.n_domains))
        m = np.zeros(s.n_domains, dtype=bool)
        m[rng.choice(s.n_domains, min(s.general_domains, s.n_domains), replace=False)] = True
        member.append(m)
    return kinds, quality, member


def build_population(s: Scenario) -> Population:
    rng = np.random.default_rng([s.seed, 1])
    kinds, quality, member = _providers(s, rng)
    everywhere = np.ones(s.n_domains, dtype=bool)
    n_lazy = max(1, s.providers // 20) if "lazy" in s.attackers else 0
    n_sybil = SYBILS if "sybil" in s.attackers else 0
    for kind, count, q in (("lazy", n_lazy, 0.2), ("sybil", n_sybil, 0.3)):
        for _ in range(count):
            kinds.append(kind)
            quality.append(np.full(s.n_domains, q))
            member.append(everywhere.copy())
    # registration order is random: selection that breaks ties by position must not find experts by luck
    n_first = len(kinds) - n_sybil
    order = [*rng.permutation(n_first).tolist(), *range(n_first, len(kinds))]
    kinds, quality, member = [kinds[i] for i in order], [quality[i] for i in order], [member[i] for i in order]
    joins = np.array([s.requests // 2 if k == "sybil" else 0 for k in kinds], dtype=np.int64)
    q_arr, m_arr = np.array(quality), np.array(member)
    expert = np.array([[k == "expert" and m for m in row] for k, row in zip(kinds, m_arr, strict=True)])
    v_kind = ["honest"] * s.validators
    if "random" in s.attackers:
        v_kind.append("random")
    if "colluding" in s.attackers:
        v_kind.append("colluding")
    stake = np.full(len(v_kind), 10**18, dtype=np.int64)
    stake[[i for i, k in enumerate(v_kind) if k != "honest"]] = 10**17  # well under a third of the stake
    bias = rng.uniform(-s.rating_bias, s.rating_bias, len(v_kind))
    friend = kinds.index("lazy") if "lazy" in kinds else -1
    names = tuple(f"d{d}" for d in range(s.n_domains))
    return Population(q_arr, m_arr, expert, tuple(kinds), joins, bias, tuple(v_kind), stake, friend, names)


def request_domains(s: Scenario) -> NDArray[np.int64]:
    """The domain of every request, uniform over domains; the same stream for every policy."""
    return np.random.default_rng([s.seed, 2]).integers(0, s.n_domains, s.requests)
