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
from llmnet.reputation.consensus import ClipRule, Consensus, consensus_rows
from llmnet.reputation.selection import FloatArray, IndexArray
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, plan_settlement
from llmnet.roles.validator import CheckedOutcome, TrustKeeper, consensus_outcome
from llmnet.sim.scenario import Population
from llmnet.types import ETHER, GWEI, ProviderProfile, checksum

FEE = 10**6 * GWEI
IntArray = IndexArray
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
        self._members: dict[int, tuple[tuple[str, ...], NDArray[np.intp]]] = {}
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
        book = self.ledger.evidence(self.pop.domain_names[domain])
        if self._members.get(domain, ((), None))[0] is not book.members:
            self._members[domain] = (book.members, np.array([self.index[m] for m in book.members], dtype=np.intp))
        return Evidence(self._members[domain][1], book.stake, book.alpha, book.beta, book.count)

    def open_tasks(self, domain: int, n: int, k: int) -> list[int]:
        hashes = [f"0x{self._content + i + 1:064x}" for i in range(n)]
        self._content += n
        deadline = self.ledger.pending_time() + 3600
        first = self.ledger.open_tasks(
            self.requester.address, self.pop.domain_names[domain], hashes, [FEE] * n, k, deadline, self.coordinator
        ).value
        assert first is not None
        return list(range(first, first + n))

    def outcomes(
        self, task_ids: Sequence[int], domain: int, chosen: IntArray, ratings: FloatArray
    ) -> list[TaskOutcome]:
        """Each task scored as the validator scores it: ``ratings[i, j, v]`` is validator v's 1-10
        rating of respondent ``chosen[i, j]``; one robust consensus over the whole batch."""
        m, k, v = ratings.shape
        weights = self.keeper.weights()
        w = np.array([weights.get(a.address, 0.0) for a in self.validators])
        rows = consensus_rows(ratings.reshape(m * k, v), w, ClipRule())
        scores, medians = rows.scores.reshape(m, k).tolist(), rows.medians.reshape(m, k).tolist()
        agreement = rows.closeness.reshape(m, k, v).mean(axis=1).tolist()
        clipped = rows.clipped.reshape(m, k, v).sum(axis=1).tolist()
        names, raters = self.pop.domain_names[domain], [a.address for a in self.validators]
        out = []
        for i, task_id in enumerate(task_ids):
            who = [self.providers[p].address for p in chosen[i]]
            agreed = Consensus(
                dict(zip(who, scores[i], strict=True)), dict(zip(who, medians[i], strict=True)),
                dict(zip(raters, agreement[i], strict=True)), dict(zip(raters, clipped[i], strict=True)),
            )  # fmt: skip
            c = CheckedOutcome(task_id, names, FEE, self.requester.address, self.coordinator.address,
                               f"0x{task_id + 1:064x}", (), ())  # fmt: skip
            out.append(consensus_outcome(c, agreed, weights))
        return out

    def settle(self, outcomes: Sequence[TaskOutcome]) -> None:
        batch = plan_settlement(outcomes, FeeSplit(), self.ledger.decay)
        self.ledger.settle_batch(batch, self.settler)
        trust = self.keeper.observe(outcomes)
        if trust:
            self.ledger.set_trust(trust, self.settler)

    def validator_weights(self) -> NDArray[np.float64]:
        weights = self.keeper.weights()
        return np.array([weights.get(v.address, 0.0) for v in self.validators])
