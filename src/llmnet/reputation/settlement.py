"""Turn rated task outcomes into one settlement batch (pure, no I/O).

Each task's fee is split between its respondents (in proportion to their
consensus scores), its validators (in proportion to stake x trust, see
:mod:`llmnet.reputation.trust`; equally when no weights are known) and the coordinator; a
respondent that failed (no answer, late, or dead) gets nothing and a
reputation failure. Payouts are summed per payee and reputation observations
folded per (provider, domain), so a batch costs one storage write per payee
and per pair rather than per task. The receipts' Merkle root is committed
with it.

>>> o = TaskOutcome(task_id=0, domain="general", fee=1000, requester="0xR", coordinator="0xC",
...                 scores={"0xA": 1.0, "0xB": 0.0}, validators=("0xV",), receipt_hash="0x" + "11" * 32)
>>> sorted(split_fee(o, FeeSplit()).items())
[('0xA', 800), ('0xC', 50), ('0xV', 150)]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from llmnet.chain.merkle import MerkleTree
from llmnet.errors import InputError
from llmnet.reputation.beta import aggregate
from llmnet.reputation.human import WeightedObservation
from llmnet.types import Payout, RepUpdate, SettlementBatch


@dataclass(frozen=True)
class FeeSplit:
    respondents: float = 0.80
    validators: float = 0.15
    coordinator: float = 0.05

    def __post_init__(self) -> None:
        parts = (self.respondents, self.validators, self.coordinator)
        if any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-9:
            raise InputError(f"fee split shares must be non-negative and add up to 1, got {parts}")


@dataclass(frozen=True)
class TaskOutcome:
    """A rated task: ``scores`` maps each respondent to its consensus score in [0, 1];
    respondents in ``failed`` did not deliver."""

    task_id: int
    domain: str
    fee: int
    requester: str
    coordinator: str
    scores: Mapping[str, float]
    validators: Sequence[str]
    receipt_hash: str
    failed: frozenset[str] = field(default_factory=frozenset)
    # validator -> stake x trust when the task was rated: the validators' share is split by it
    # (equally when empty); validator -> agreement with the consensus, the evidence for trust
    validator_weights: Mapping[str, float] = field(default_factory=dict)
    agreement: Mapping[str, float] = field(default_factory=dict)
    gold: bool = False  # scores are the truth (a gold task), and agreement was measured against it


def _shares(total: int, weights: Mapping[str, float]) -> dict[str, int]:
    mass = sum(weights.values())
    if total == 0 or mass <= 0:
        return {}
    return {who: int(total * w / mass) for who, w in weights.items() if w > 0}


def split_fee(outcome: TaskOutcome, split: FeeSplit) -> dict[str, int]:
    """Wei per payee for one task; the amounts add up to the fee exactly."""
    pay: dict[str, int] = defaultdict(int)
    paid_scores = {r: s for r, s in outcome.scores.items() if r not in outcome.failed}
    resp_pool = int(outcome.fee * split.respondents)
    resp = _shares(resp_pool, paid_scores)
    if not resp:  # nobody earned anything: that share goes back to the requester
        pay[outcome.requester] += resp_pool
    for who, amount in resp.items():
        pay[who] += amount
    val_pool = int(outcome.fee * split.validators)
    weights = {v: outcome.validator_weights.get(v, 0.0) for v in outcome.validators}
    if not any(w > 0 for w in weights.values()):
        weights = dict.fromkeys(outcome.validators, 1.0)
    for who, amount in _shares(val_pool, weights).items():
        pay[who] += amount
    if not outcome.validators:
        pay[outcome.requester] += val_pool
    # the coordinator's share plus every rounding remainder keeps the sum exact
    pay[outcome.coordinator] += outcome.fee - sum(pay.values())
    return {who: amount for who, amount in pay.items() if amount > 0}


def observations(outcomes: Sequence[TaskOutcome]) -> dict[tuple[str, str], list[float]]:
    """Per (provider, domain), its scores in task order; a failure counts as 0."""
    seen: dict[tuple[str, str], list[float]] = defaultdict(list)
    for o in outcomes:
        for provider, score in o.scores.items():
            seen[(provider, o.domain)].append(0.0 if provider in o.failed else score)
        for provider in o.failed - set(o.scores):
            seen[(provider, o.domain)].append(0.0)
    return seen


def plan_settlement(
    outcomes: Sequence[TaskOutcome], split: FeeSplit, decay: int, extra: Sequence[WeightedObservation] = ()
) -> SettlementBatch:
    """One batch settling ``outcomes``: aggregated payouts and reputation, receipts root.

    ``extra`` observations (human rankings, see :mod:`llmnet.reputation.human`) join the
    reputation updates after the tasks' own, each scaled by its weight."""
    if not outcomes:
        raise InputError("cannot settle an empty batch")
    totals: dict[str, int] = defaultdict(int)
    for o in outcomes:
        for who, amount in split_fee(o, split).items():
            totals[who] += amount
    seen = {pair: [(score, 1.0) for score in scores] for pair, scores in observations(outcomes).items()}
    for x in extra:
        seen.setdefault((x.provider, x.domain), []).append((x.score, x.weight))
    updates = tuple(
        RepUpdate(provider, domain, aggregate([s for s, _ in obs], decay, [w for _, w in obs]))
        for (provider, domain), obs in seen.items()
    )
    return SettlementBatch(
        task_ids=tuple(o.task_id for o in outcomes),
        payouts=tuple(Payout(who, amount) for who, amount in totals.items()),
        updates=updates,
        receipts_root=MerkleTree([o.receipt_hash for o in outcomes]).root,
    )
