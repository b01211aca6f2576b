"""Settled task outcomes as arrays, and the fee split computed on them (pure, no I/O).

:class:`OutcomeRows` holds a batch of outcomes, row ``i`` for task ``i``, with accounts as
indices into one table of names; :func:`payments` splits every task's fee at once. The
per-task forms in :mod:`llmnet.reputation.settlement` (``split_fee``, ``plan_settlement``)
build these rows and call the same functions, so a validator settling a handful of tasks and a
simulation settling thousands share one implementation.

Each task's payments are listed in the order the rule touches its payees: the requester when
no respondent earned anything, the respondents, the validators, the requester when there were
no validators, and the coordinator, who gets the rest of the fee (its share and every rounding
remainder), so a task's amounts add up to its fee exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from llmnet.errors import InputError
from llmnet.reputation.consensus import leave_one_out_medians
from llmnet.reputation.trust import GOLD, ORDINARY, EvidenceRule, batch_evidence

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]
NONE = -1  # an empty respondent or validator column
EXACT_INT64 = 2**63  # fees below this keep every amount in int64; larger ones use Python integers


@dataclass(frozen=True)
class OutcomeRows:
    """Many tasks' outcomes: accounts are indices into ``names``, ``NONE`` for an empty column.

    ``scores[i, j]`` is respondent ``respondents[i, j]``'s consensus score in [0, 1] (any value
    when it ``failed``); ``weights[i, j]`` is validator ``validators[i, j]``'s stake x trust and
    ``agreement[i, j]`` rater ``raters[i, j]``'s agreement with the consensus; ``ratings[i, j, k]``
    is rater ``raters[i, k]``'s 1-10 rating of respondent ``respondents[i, j]`` (NaN: not rated)
    and ``targets[i, j]`` that respondent's consensus median or, on a gold task, the truth (NaN:
    nothing). Trust evidence (:func:`rating_arrays`) measures gold ratings against the truth and
    other ratings against the median of the *other* raters' ratings, recomputed from ``ratings``."""

    names: tuple[str, ...]
    task_ids: tuple[int, ...]
    domains: tuple[str, ...]
    fees: tuple[int, ...]
    requesters: IntArray  # (m,)
    coordinators: IntArray  # (m,)
    respondents: IntArray  # (m, r)
    scores: FloatArray  # (m, r)
    failed: BoolArray  # (m, r)
    validators: IntArray  # (m, v)
    weights: FloatArray  # (m, v)
    receipts: tuple[str, ...]
    raters: IntArray  # (m, a) validators whose agreement with the consensus was measured
    agreement: FloatArray  # (m, a) that agreement, the evidence for their trust
    gold: BoolArray  # (m,) scores are the truth and agreement was measured against it
    ratings: FloatArray  # (m, r, a)
    targets: FloatArray  # (m, r)

    def __len__(self) -> int:
        return len(self.task_ids)


@dataclass(frozen=True)
class Payments:
    """Every task's payments in order: ``task[n]`` pays ``payee[n]`` the ``amount[n]`` wei."""

    task: IntArray
    payee: IntArray
    amount: NDArray[np.int64] | NDArray[np.object_]


def _column_sum(w: FloatArray) -> FloatArray:
    """Row sums added left to right, as ``sum()`` adds a dict's values."""
    total = np.zeros(w.shape[0])
    for j in range(w.shape[1]):
        total = total + w[:, j]
    return total


def _shares(pool: FloatArray, w: FloatArray) -> tuple[FloatArray, BoolArray]:
    """``int(pool * w / mass)`` per positive weight (as floats), and which weights take a share;
    none in a row whose pool or weight mass is 0."""
    mass = _column_sum(w)
    live = (pool > 0) & (mass > 0)
    safe = np.where(live, mass, 1.0)
    amount = np.floor(pool[:, None] * w / safe[:, None])
    takes = live[:, None] & (w > 0)
    return np.where(takes, amount, 0.0), takes


def _ints(x: FloatArray, big: bool) -> NDArray[np.int64] | NDArray[np.object_]:
    if not big:
        return x.astype(np.int64)
    return np.array([int(v) for v in x.ravel().tolist()], dtype=object).reshape(x.shape)


def payments(rows: OutcomeRows, respondents: float, validators: float) -> Payments:
    """Every task's fee split: ``respondents`` and ``validators`` are the pools' shares of the fee."""
    m = len(rows)
    big = max(rows.fees, default=0) >= EXACT_INT64
    fees = np.array(rows.fees, dtype=object if big else np.int64)
    fee_f = np.array(rows.fees, dtype=np.float64)
    present = rows.respondents != NONE
    paid = np.where(present & ~rows.failed, rows.scores, 0.0)
    resp_pool = np.floor(fee_f * respondents)
    resp, resp_takes = _shares(resp_pool, paid)
    has_validators: BoolArray = (rows.validators != NONE).any(axis=1)
    val_w = np.where(rows.validators != NONE, rows.weights, 0.0)
    equal = ~(val_w > 0).any(axis=1, keepdims=True)  # no weights known: split equally
    val_w = np.where(equal & (rows.validators != NONE), 1.0, val_w)
    val_pool = np.floor(fee_f * validators)
    val, val_takes = _shares(val_pool, val_w)
    refund_resp: BoolArray = np.logical_not(resp_takes.any(axis=1))
    amounts = [
        _ints(np.where(refund_resp, resp_pool, 0.0)[:, None], big), _ints(resp, big), _ints(val, big),
        _ints(np.where(has_validators, 0.0, val_pool)[:, None], big),
    ]  # fmt: skip
    coordinator = fees - sum(a.sum(axis=1) for a in amounts)
    payee = np.hstack([rows.requesters[:, None], rows.respondents, rows.validators, rows.requesters[:, None],
                       rows.coordinators[:, None]])  # fmt: skip
    touched = np.hstack([refund_resp[:, None], resp_takes, val_takes, ~has_validators[:, None], np.ones((m, 1), bool)])
    amount = np.hstack([*amounts, coordinator[:, None]])
    task = np.broadcast_to(np.arange(m)[:, None], payee.shape)
    return Payments(task[touched], payee[touched], amount[touched])


def payee_totals(p: Payments, n_names: int) -> list[tuple[int, int]]:
    """(payee, wei) summed over the batch, payees in order of their first paid task; a payee's
    amounts within one task are summed first and dropped when they come to 0."""
    if not len(p.task):
        return []
    key = p.task.astype(np.int64) * n_names + p.payee
    by_key = np.argsort(key, kind="stable")
    starts = np.flatnonzero(np.diff(key[by_key], prepend=-1))
    first = by_key[starts]  # each (task, payee)'s first payment
    per_task = np.add.reduceat(p.amount[by_key], starts)
    kept = np.flatnonzero(per_task > 0)
    order = kept[np.argsort(first[kept], kind="stable")]
    payees, amounts = p.payee[first[order]], per_task[order]
    if amounts.dtype == np.int64 and int(amounts.sum(dtype=object)) < EXACT_INT64:
        who, at, inverse = np.unique(payees, return_index=True, return_inverse=True)
        sums = np.zeros(len(who), dtype=np.int64)
        np.add.at(sums, inverse, amounts)
        seq = np.argsort(at, kind="stable")
        return list(zip(who[seq].tolist(), sums[seq].tolist(), strict=True))
    totals: dict[int, int] = {}
    for payee, amount in zip(payees.tolist(), amounts.tolist(), strict=True):
        totals[payee] = totals.get(payee, 0) + int(amount)
    return list(totals.items())


def observation_lists(rows: OutcomeRows) -> dict[tuple[str, str], list[float]]:
    """Per (provider, domain), its scores in task order; a failure counts as 0."""
    seen: dict[tuple[str, str], list[float]] = {}
    for pair, score in zip(*observation_arrays(rows), strict=True):
        seen.setdefault(pair, []).append(score)
    return seen


def observation_arrays(rows: OutcomeRows) -> tuple[list[tuple[str, str]], list[float]]:
    """Every reputation observation in task order: its (provider, domain) and score."""
    task, who, score = observation_index(rows)
    pairs = [(rows.names[p], rows.domains[t]) for p, t in zip(who.tolist(), task.tolist(), strict=True)]
    return pairs, score.tolist()


def observation_index(rows: OutcomeRows) -> tuple[IntArray, IntArray, FloatArray]:
    """:func:`observation_arrays` as arrays: each observation's task, provider (index into
    ``names``) and score, a failure counting as 0."""
    task, column = np.nonzero(rows.respondents != NONE)
    score: FloatArray = np.where(rows.failed[task, column], 0.0, rows.scores[task, column])
    return task, rows.respondents[task, column], score


def rating_arrays(rows: OutcomeRows) -> tuple[IntArray, FloatArray, FloatArray, IntArray, BoolArray]:
    """Every rating measured against a target, flat: its rater (index into ``names``), rating,
    target, task (row) and whether the task is gold.

    On a gold task the target is the truth (``targets``). On an ordinary one it is the weighted
    median of the *other* raters' ratings of that response, weighed as the consensus weighed
    them (:func:`~llmnet.reputation.consensus.leave_one_out_medians`), so that no rater is
    measured against a median its own rating helped to make; a rating nobody else's can be
    set against is left out. The settled score stays the consensus of all."""
    m, r, a = rows.ratings.shape
    present = rows.raters != NONE
    # each rater's weight in its task's consensus: its entry among the task's validators
    same = (rows.validators[:, None, :] == rows.raters[:, :, None]) & present[:, :, None]
    weight = np.where(same, rows.weights[:, None, :], 0.0).sum(axis=-1)  # (m, a)
    ratings = np.where(present[:, None, :], rows.ratings, np.nan)
    others = leave_one_out_medians(ratings.reshape(m * r, a), np.repeat(weight, r, axis=0)).reshape(m, r, a)
    target = np.where(rows.gold[:, None, None], rows.targets[:, :, None], others)
    who = np.broadcast_to(rows.raters[:, None, :], (m, r, a))
    task = np.broadcast_to(np.arange(m)[:, None, None], (m, r, a))
    keep = (who != NONE) & ~np.isnan(ratings) & ~np.isnan(target)
    return who[keep], ratings[keep], target[keep], task[keep], rows.gold[task[keep]]


Evidence = tuple[list[float], list[bool], list[float]]  # evidence, gold flags, observation counts


def rater_evidence(rows: OutcomeRows, weights: FloatArray, rule: EvidenceRule) -> dict[int, Evidence]:
    """Per rater (index into ``names``) with evidence in the batch, its chance-corrected
    evidence (:func:`~llmnet.reputation.trust.batch_evidence`), ordinary tasks first then gold
    ones, whether each is gold, and how many observations each counts for. ``weights[i]``: the
    stake x trust weight of account ``i``, which picks the batch's reference rater."""
    if weights.shape != (len(rows.names),):
        raise InputError(f"give one weight per account: {len(rows.names)} accounts, weights of shape {weights.shape}")
    found = batch_evidence(*rating_arrays(rows), weights, rule)
    out: dict[int, Evidence] = {}
    for who in np.flatnonzero((found.counts > 0).any(axis=1)).tolist():
        kinds = [k for k in (ORDINARY, GOLD) if found.counts[who, k] > 0]
        out[who] = ([float(found.evidence[who, k]) for k in kinds], [k == GOLD for k in kinds],
                    [float(found.counts[who, k]) for k in kinds])  # fmt: skip
    return out


def concat_rows(parts: Sequence[OutcomeRows]) -> OutcomeRows:
    """Several row sets over the same ``names`` as one, in order (columns padded with ``NONE``)."""
    if not parts or any(p.names != parts[0].names for p in parts):
        raise InputError("give one or more row sets, all over the same table of names")

    def stack(field: str, fill: float) -> NDArray[Any]:
        arrays = [getattr(p, field) for p in parts]
        tail = tuple(max(a.shape[d] for a in arrays) for d in range(1, arrays[0].ndim))
        out = np.full((sum(len(a) for a in arrays), *tail), fill, dtype=arrays[0].dtype)
        at = 0
        for a in arrays:
            out[(slice(at, at + len(a)), *(slice(0, n) for n in a.shape[1:]))] = a
            at += len(a)
        return out

    def join(field: str) -> tuple[Any, ...]:
        return tuple(x for p in parts for x in getattr(p, field))

    def flat(field: str) -> NDArray[Any]:
        return np.concatenate([getattr(p, field) for p in parts])

    return OutcomeRows(
        parts[0].names, join("task_ids"), join("domains"), join("fees"), flat("requesters"), flat("coordinators"),
        stack("respondents", NONE), stack("scores", 0.0), stack("failed", False), stack("validators", NONE),
        stack("weights", 0.0), join("receipts"), stack("raters", NONE), stack("agreement", np.nan), flat("gold"),
        stack("ratings", np.nan), stack("targets", np.nan),
    )  # fmt: skip
