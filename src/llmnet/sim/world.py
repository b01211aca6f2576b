"""The simulated network's ledger side: accounts, registrations, tasks, settlement and trust.

It talks to an in-memory :class:`~llmnet.chain.ledger.Ledger` through the interface the live
network uses, and settles through the validator's own code path in its array form: ratings
become :class:`~llmnet.reputation.outcome_rows.OutcomeRows` by robust consensus
(``consensus_rows``, as ``score_outcome`` scores a task), rows a batch by ``plan_rows`` (what
``plan_settlement`` calls), the batch is written with ``settle_batch`` and trust is folded and
recorded by the ``TrustKeeper`` (``observe_rows``, what ``observe`` calls).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from llmnet.chain.memory_ledger import MemoryLedger, MemoryParams
from llmnet.reputation.consensus import ClipRule, consensus_rows, normalize_scores
from llmnet.reputation.outcome_rows import OutcomeRows, concat_rows
from llmnet.reputation.selection import FloatArray, IndexArray
from llmnet.reputation.settlement import FeeSplit, plan_rows
from llmnet.roles.trust_keeper import TrustKeeper
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
        self._registered = np.zeros(population.n_providers, dtype=bool)
        self._members: dict[int, tuple[tuple[str, ...], NDArray[np.intp]]] = {}
        accounts = (*self.providers, *self.validators, self.requester, self.coordinator)
        self.names = tuple(a.address for a in accounts)
        self._requester = len(self.providers) + len(self.validators)
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
        for i in np.flatnonzero((self.pop.joins_at <= upto_request) & ~self._registered):
            self._registered[i] = True
            domains = tuple(names[d] for d in np.flatnonzero(self.pop.member[i]))
            profile = ProviderProfile(f"sim://provider/{i}", domains, f"sim-model-{i}")
            self.ledger.register_provider(profile, self.ledger.min_stake, self.providers[i])

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

    def outcomes(self, task_ids: Sequence[int], domain: int, chosen: IntArray, ratings: FloatArray) -> OutcomeRows:
        """Each task scored as the validator scores it (``consensus_outcome``, on rows):
        ``ratings[i, j, v]`` is validator v's 1-10 rating of respondent ``chosen[i, j]``; one
        robust consensus over the whole batch."""
        m, k, v = ratings.shape
        weights = self.keeper.weights()
        w = np.array([weights.get(a.address, 0.0) for a in self.validators])
        rows = consensus_rows(ratings.reshape(m * k, v), w, ClipRule())
        n = self.pop.n_providers
        by_address = np.array(sorted(range(v), key=lambda j: self.validators[j].address), dtype=np.intp)
        return OutcomeRows(
            names=self.names, task_ids=tuple(task_ids), domains=(self.pop.domain_names[domain],) * m, fees=(FEE,) * m,
            requesters=np.full(m, self._requester), coordinators=np.full(m, self._requester + 1),
            respondents=np.asarray(chosen, dtype=np.intp), scores=normalize_scores(rows.scores).reshape(m, k),
            failed=np.zeros((m, k), dtype=bool), validators=np.broadcast_to(n + by_address, (m, v)),
            weights=np.broadcast_to(w[by_address], (m, v)), receipts=tuple(f"0x{t + 1:064x}" for t in task_ids),
            raters=np.broadcast_to(n + np.arange(v), (m, v)), agreement=rows.closeness.reshape(m, k, v).mean(axis=1),
            gold=np.zeros(m, dtype=bool), ratings=ratings, targets=rows.medians.reshape(m, k),
        )  # fmt: skip

    def settle(self, parts: Sequence[OutcomeRows]) -> None:
        rows = concat_rows(parts)
        self.ledger.settle_batch(plan_rows(rows, FeeSplit(), self.ledger.decay), self.settler)
        trust = self.keeper.observe_rows(rows)
        if trust:
            self.ledger.set_trust(trust, self.settler)

    def validator_weights(self) -> NDArray[np.float64]:
        weights = self.keeper.weights()
        return np.array([weights.get(v.address, 0.0) for v in self.validators])
