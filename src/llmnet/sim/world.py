"""The simulated network's ledger side: accounts, registrations, tasks, settlement and trust.

It talks to an in-memory :class:`~llmnet.chain.ledger.Ledger` through the interface the live
network uses, and settles through the validator's own code path: ratings become a
:class:`~llmnet.reputation.settlement.TaskOutcome` by ``score_outcome`` (robust consensus),
outcomes a batch by ``plan_settlement``, the batch is written with ``settle_batch`` and trust
is folded and recorded by the ``TrustKeeper``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from llmnet.chain.memory_ledger import MemoryLedger, MemoryParams
from llmnet.reputation.selection import FloatArray, evidence_arrays
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, plan_settlement
from llmnet.roles.validator import CheckedOutcome, CheckedRating, TrustKeeper, score_outcome
from llmnet.sim.scenario import Population
from llmnet.types import ETHER, GWEI, ProviderProfile, checksum

FEE = 10**6 * GWEI
ZERO_KEY = bytes(32)


@dataclass(frozen=True)
class SimAccount:
    address: str
    key: bytes = ZERO_KEY


def _account(tag: int, i: int) -> SimAccount:
    return SimAccount(checksum(f"0x{tag:02x}{i:038x}"))


@dataclass(frozen=True)
class Evidence:
    """One domain's candidates as arrays, read from the ledger once per batch."""

    providers: NDArray[np.intp]  # provider indices
    stake: NDArray[np.float64]
    alpha: FloatArray
    beta: FloatArray
    count: FloatArray


class SimWorld:
    """One policy's private network: a fresh ledger with the scenario's providers and validators."""

    def __init__(self, population: Population, decay: int, min_stake: int = ETHER // 10) -> None:
        self.pop = population
        self.governance = _account(0xFF, 0)
        self.requester, self.coordinator, self.settler = (_account(0xEE, i) for i in range(3))
        params = MemoryParams(min_stake=min_stake, decay=decay)
        self.ledger = MemoryLedger(params, governance=self.governance.address, domains=population.domain_names)
        self.providers = [_account(0x01, i) for i in range(population.n_providers)]
        self.index = {a.address: i for i, a in enumerate(self.providers)}
        self.validators = [_account(0x02, i) for i in range(len(population.validator_kind))]
        self.keeper = TrustKeeper(self.ledger, ttl_s=float("inf"))
        self._content = 0
        self._registered: set[str] = set()
        self._setup()

    def _setup(self) -> None:
        led = self.ledger
        for a in (self.requester, *self.providers, *self.validators):
            led.fund(a.address, 10**9 * ETHER)
        led.set_settler(self.settler.address, True, self.governance)
        for v, stake in zip(self.validators, self.pop.validator_stake, strict=True):
            led.register_validator(f"sim://validator/{v.address}", "sim-judge", "0x" + "00" * 32, int(stake), v)
        led.deposit(10**8 * ETHER, self.requester)
        led.approve(self.coordinator.address, 10**8 * ETHER, self.requester)

    def register_joining(self, upto_request: int) -> None:
        """Register every provider whose join point has come and who is not registered yet."""
        names = self.pop.domain_names
        for i in np.flatnonzero(self.pop.joins_at <= upto_request):
            a = self.providers[i]
            if a.address not in self._registered:
                self._registered.add(a.address)
                domains = tuple(names[d] for d in np.flatnonzero(self.pop.member[i]))
                profile = ProviderProfile(f"sim://provider/{i}", domains, f"sim-model-{i}")
                self.ledger.register_provider(profile, self.ledger.min_stake, a)

    def evidence(self, domain: int) -> Evidence:
        cands = self.ledger.candidates(self.pop.domain_names[domain])
        alpha, beta, count = evidence_arrays(cands)
        idx = np.array([self.index[c.provider] for c in cands], dtype=np.intp)
        return Evidence(idx, np.array([float(c.stake) for c in cands]), alpha, beta, count)

    def open_tasks(self, domain: int, n: int, k: int) -> list[int]:
        hashes = [f"0x{self._content + i + 1:064x}" for i in range(n)]
        self._content += n
        deadline = self.ledger.pending_time() + 3600
        first = self.ledger.open_tasks(
            self.requester.address, self.pop.domain_names[domain], hashes, [FEE] * n, k, deadline, self.coordinator
        ).value
        assert first is not None
        return list(range(first, first + n))

    def outcome(self, task_id: int, domain: int, chosen: Sequence[int], ratings: NDArray[np.float64]) -> TaskOutcome:
        """``ratings[j, v]``: validator v's 1-10 rating of respondent ``chosen[j]``."""
        respondents = [self.providers[p].address for p in chosen]
        checked = tuple(
            CheckedRating(v.address, r, float(ratings[j, vi]), 0, "")
            for j, r in enumerate(respondents)
            for vi, v in enumerate(self.validators)
        )
        c = CheckedOutcome(task_id, self.pop.domain_names[domain], FEE, self.requester.address,
                           self.coordinator.address, f"0x{task_id + 1:064x}", (), checked)  # fmt: skip
        return score_outcome(c, checked, self.keeper.weights())

    def settle(self, outcomes: Sequence[TaskOutcome]) -> None:
        batch = plan_settlement(outcomes, FeeSplit(), self.ledger.decay)
        self.ledger.settle_batch(batch, self.settler)
        trust = self.keeper.observe(outcomes)
        if trust:
            self.ledger.set_trust(trust, self.settler)

    def validator_weights(self) -> NDArray[np.float64]:
        weights = self.keeper.weights()
        return np.array([weights.get(v.address, 0.0) for v in self.validators])
