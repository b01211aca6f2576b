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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from llmnet.chain.merkle import MerkleTree
from llmnet.errors import InputError
from llmnet.reputation.beta import RepDelta, aggregate_groups
from llmnet.reputation.human import WeightedObservation
from llmnet.reputation.outcome_rows import (
    NONE,
    FloatArray,
    OutcomeRows,
    Payments,
    observation_arrays,
    observation_index,
    observation_lists,
    payee_totals,
    payments,
)
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
    # validator -> respondent -> its 1-10 rating, and respondent -> its consensus median (the
    # truth on a gold task): the evidence for trust, each rating measured against the truth or
    # against the median of the other validators' ratings (outcome_rows.rating_arrays)
    ratings: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    targets: Mapping[str, float] = field(default_factory=dict)


def _respondents(o: TaskOutcome) -> list[str]:
    """Those the task scored, then those that failed without a score."""
    return [*o.scores, *sorted(o.failed - set(o.scores))]


def outcome_rows(outcomes: Sequence[TaskOutcome]) -> OutcomeRows:
    """The outcomes as :class:`~llmnet.reputation.outcome_rows.OutcomeRows`."""
    index: dict[str, int] = {}
    at = lambda account: index.setdefault(account, len(index))  # noqa: E731
    m = len(outcomes)
    r = max((len(_respondents(o)) for o in outcomes), default=0)
    v = max((len(o.validators) for o in outcomes), default=0)
    a = max((len(o.agreement) for o in outcomes), default=0)
    respondents, validators = np.full((m, r), NONE, dtype=np.intp), np.full((m, v), NONE, dtype=np.intp)
    raters, agreement = np.full((m, a), NONE, dtype=np.intp), np.full((m, a), np.nan)
    ratings, targets = _rating_table(outcomes, r), np.full((m, r), np.nan)
    scores, failed, weights = np.zeros((m, r)), np.zeros((m, r), dtype=bool), np.zeros((m, v))
    ends = np.array([(at(o.requester), at(o.coordinator)) for o in outcomes], dtype=np.intp).reshape(m, 2)
    for i, o in enumerate(outcomes):
        for j, who in enumerate(_respondents(o)):
            respondents[i, j], scores[i, j], failed[i, j] = at(who), o.scores.get(who, 0.0), who in o.failed
            targets[i, j] = o.targets.get(who, np.nan)
        for j, who in enumerate(dict.fromkeys(o.validators)):
            validators[i, j], weights[i, j] = at(who), o.validator_weights.get(who, 0.0)
        for j, (who, agreed) in enumerate(o.agreement.items()):
            raters[i, j], agreement[i, j] = at(who), agreed
    return OutcomeRows(
        tuple(index), tuple(o.task_id for o in outcomes), tuple(o.domain for o in outcomes),
        tuple(o.fee for o in outcomes), ends[:, 0], ends[:, 1], respondents, scores, failed, validators, weights,
        tuple(o.receipt_hash for o in outcomes), raters, agreement, np.array([o.gold for o in outcomes], dtype=bool),
        ratings, targets,
    )  # fmt: skip


def _rating_table(outcomes: Sequence[TaskOutcome], r: int) -> FloatArray:
    """``ratings[i, j, k]``: rater k of task i (in ``agreement`` order) on its respondent j; NaN: not rated."""
    a = max((len(o.agreement) for o in outcomes), default=0)
    table = np.full((len(outcomes), r, a), np.nan)
    for i, o in enumerate(outcomes):
        column = {who: j for j, who in enumerate(_respondents(o))}
        for k, who in enumerate(o.agreement):
            for respondent, rating in o.ratings.get(who, {}).items():
                if respondent in column:
                    table[i, column[respondent], k] = rating
    return table


def split_fee(outcome: TaskOutcome, split: FeeSplit) -> dict[str, int]:
    """Wei per payee for one task; the amounts add up to the fee exactly."""
    rows = outcome_rows([outcome])
    return {rows.names[who]: amount for who, amount in payee_totals(_payments(rows, split), len(rows.names))}


def _payments(rows: OutcomeRows, split: FeeSplit) -> Payments:
    return payments(rows, split.respondents, split.validators)


def observations(outcomes: Sequence[TaskOutcome]) -> dict[tuple[str, str], list[float]]:
    """Per (provider, domain), its scores in task order; a failure counts as 0."""
    return observation_lists(outcome_rows(outcomes))


def plan_settlement(
    outcomes: Sequence[TaskOutcome], split: FeeSplit, decay: int, extra: Sequence[WeightedObservation] = ()
) -> SettlementBatch:
    """One batch settling ``outcomes``: aggregated payouts and reputation, receipts root.

    ``extra`` observations (human rankings, see :mod:`llmnet.reputation.human`) join the
    reputation updates after the tasks' own, each scaled by its weight."""
    if not outcomes:
        raise InputError("cannot settle an empty batch")
    return plan_rows(outcome_rows(outcomes), split, decay, extra)


def observation_groups(rows: OutcomeRows) -> tuple[list[tuple[str, str]], NDArray[np.intp], NDArray[np.float64]]:
    """The observations grouped by (provider, domain) on integer keys: the pairs in order of
    first observation, each observation's pair (index into them) and its score."""
    task, who, score = observation_index(rows)
    ids: dict[str, int] = {}
    domain = np.array([ids.setdefault(d, len(ids)) for d in rows.domains], dtype=np.int64)
    width = max(len(ids), 1)
    key = who.astype(np.int64) * width + domain[task]
    unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")
    rank = np.empty(len(unique), dtype=np.intp)
    rank[by_first] = np.arange(len(unique))
    names, domains = rows.names, list(ids)
    pairs = [(names[k // width], domains[k % width]) for k in unique[by_first].tolist()]
    return pairs, rank[inverse.ravel()], score


def plan_rows(
    rows: OutcomeRows, split: FeeSplit, decay: int, extra: Sequence[WeightedObservation] = ()
) -> SettlementBatch:
    """:func:`plan_settlement` of outcomes given as rows."""
    if not len(rows):
        raise InputError("cannot settle an empty batch")
    totals = payee_totals(_payments(rows, split), len(rows.names))
    pairs, group, scores = observation_groups(rows)
    index = {pair: g for g, pair in enumerate(pairs)}
    if len(index) < len(pairs):  # a name listed twice: group by the names themselves
        named, scores_list = observation_arrays(rows)
        index = {}
        group = np.array([index.setdefault(pair, len(index)) for pair in named], dtype=np.intp)
        scores = np.array(scores_list, dtype=np.float64)
    also = [index.setdefault((x.provider, x.domain), len(index)) for x in extra]
    group = np.concatenate((group, np.array(also, dtype=np.intp)))
    weights = np.concatenate((np.ones(len(scores)), np.array([x.weight for x in extra], dtype=np.float64)))
    scores_all = np.concatenate((scores, np.array([x.score for x in extra], dtype=np.float64)))
    count, successes, failures = aggregate_groups(group, scores_all, weights, decay)
    updates = tuple(
        RepUpdate(provider, domain, RepDelta(c, s, f))
        for (provider, domain), c, s, f in zip(
            index, count.tolist(), successes.tolist(), failures.tolist(), strict=True
        )
    )
    return SettlementBatch(
        task_ids=rows.task_ids,
        payouts=tuple(Payout(rows.names[who], amount) for who, amount in totals),
        updates=updates,
        receipts_root=MerkleTree(list(rows.receipts)).root,
    )
