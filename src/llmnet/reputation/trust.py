"""How much each validator's ratings count, and what it earns (pure, no I/O).

A validator's *trust* in [0, 1] is an exponential moving average of evidence about it, one
piece per settled batch and kind of task:

- on ordinary tasks, its *chance-corrected* agreement with the consensus (see
  :func:`llmnet.reputation.consensus.robust_consensus` and :func:`batch_evidence`);
- on *gold* tasks, whose answers the coordinator already knows and mixes into the stream
  unannounced, the same measure against the truth; one gold task weighs
  ``TrustRule.gold_weight`` ordinary ones, because it is measured against the truth rather than
  against the other validators;
- a commitment it never revealed counts as a gold observation of 0.

Chance correction: a rating's closeness to its target is ``max(0, 1 - |rating - target| / 3)``.
On a gold task the target is the truth. On an ordinary one it is the weighted median of the
*other* raters' ratings of that response (:func:`llmnet.reputation.consensus.leave_one_out_medians`,
weighed as the consensus weighed them): a rater is never measured against a median its own rating
helped to make, which on alike answers would reward whoever sits in the median and keep pushing
out whoever drifts from it. The settled score stays the robust consensus of all raters. A
validator rating uniformly at random still lands near its targets now and then (closeness about
0.3 on average), and one giving every answer the same rating lands near them whenever the answers
are alike. So per batch the evidence compares a validator's *observed* closeness with its
*chance* closeness, the closeness of its ratings to its targets of the *other* responses it rated
in the batch (an exact leave-one-out permutation baseline, :func:`chance_closeness`). The
*excess* ``observed - chance`` is 0 on average for ratings that say nothing about the answers they
rate, whatever their distribution.

The evidence is that excess less ``EvidenceRule.doubt`` (1) standard error of it, so that a
batch of guesses that happens to land near the targets earns little, over ``EvidenceRule.par``
(0.7) times the *reference*: the trust-weighted median of the *other* raters' doubted excesses,
clipped to [0, 1]. An honest validator whose noise is typical of its peers so earns about 1,
not the ``(observed - chance) / (1 - chance)`` of Cohen's kappa, which punishes ordinary judging
noise nearly as hard as guessing; and no rater sets the bar it is measured by. A batch whose
answers are all about equally good tells little about anyone: a rater's evidence counts for its
tasks times ``min(1, (1 - perfect chance) / EvidenceRule.informative)``, *perfect chance* being
the chance closeness of a rater giving exactly its targets, times ``min(1, reference /
EvidenceRule.signal)`` (0.2): on alike answers the excesses are noise around 0 and the others'
reference, when it is above 0 at all, is small, so such a batch moves trust little. With a
single other rater the reference is that rater's alone; with none, there is no consensus
evidence. Gold evidence is also capped by plain accuracy (mean closeness to the truth), which
stands alone when the others show no excess on the batch's gold tasks (alike gold answers, or
nobody else rated them), so a rater far off the truth is caught either way.

Its *weight*, the say it has in consensus and its share of the validators' pay, is
``stake x trust ** TrustRule.power``. A newcomer starts at ``TrustRule.initial`` and has to
earn the rest. The power is 2, so a validator's say falls faster than its trust.

>>> rule = TrustRule()
>>> t = rule.initial
>>> for _ in range(20):
...     t = update_trust(t, 1.0, rule)
>>> round(t, 3)
0.939
>>> round(update_trust(t, 0.0, rule, gold=True), 3)
0.685
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from llmnet.errors import InputError
from llmnet.reputation.consensus import leave_one_out_medians

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]
ORDINARY, GOLD = 0, 1  # the columns of BatchEvidence


@dataclass(frozen=True)
class TrustRule:
    rate: float = 0.1  # how far one ordinary observation moves trust towards it
    initial: float = 0.5  # a new validator's trust
    gold_weight: float = 3.0  # one gold (or unrevealed) observation counts this many ordinary ones
    power: float = 2.0  # weight = stake x trust ** power

    def __post_init__(self) -> None:
        if not 0 < self.rate <= 1:
            raise InputError(f"TrustRule.rate must be in (0, 1], got {self.rate!r}")
        if not 0 <= self.initial <= 1:
            raise InputError(f"TrustRule.initial must be in [0, 1], got {self.initial!r}")
        if not (math.isfinite(self.gold_weight) and self.gold_weight >= 1):
            raise InputError(f"TrustRule.gold_weight must be 1 or more, got {self.gold_weight!r}")
        if not (math.isfinite(self.power) and self.power > 0):
            raise InputError(f"TrustRule.power must be a positive number, got {self.power!r}")


def update_trust(trust: float, evidence: float, rule: TrustRule, *, gold: bool = False) -> float:
    """Trust moved towards ``evidence`` (in [0, 1]) by one observation, ``gold_weight`` of them for gold."""
    return fold_trust(trust, [evidence], [gold], rule)


def fold_trust(trust: float, evidence: Sequence[float], gold: Sequence[bool], rule: TrustRule,
               counts: Sequence[float] | None = None) -> float:  # fmt: skip
    """:func:`update_trust` applied for each observation in turn (``gold[i]``: observation i is gold).

    ``counts[i]`` (default 1): how many observations evidence i stands for, e.g. the tasks of a
    batch whose one chance-corrected figure it is; it may be fractional, and 0 leaves trust alone."""
    counts = [1.0] * len(evidence) if counts is None else counts
    if not len(evidence) == len(gold) == len(counts):
        raise InputError(
            f"{len(evidence)} observations, {len(gold)} gold flags and {len(counts)} counts; give one of each per "
            "observation"
        )
    bad = next((e for e in evidence if not 0 <= e <= 1), None)
    if bad is not None or not 0 <= trust <= 1:
        shown = bad if bad is not None else (evidence[0] if evidence else None)
        raise InputError(f"trust ({trust!r}) and evidence ({shown!r}) must lie in [0, 1]")
    worst = next((c for c in counts if not (math.isfinite(c) and c >= 0)), None)
    if worst is not None:
        raise InputError(f"an observation count must be a finite number of 0 or more, got {worst!r}")
    weight = (1.0, rule.gold_weight)
    for e, g, c in zip(evidence, gold, counts, strict=True):
        trust = trust + (1.0 - (1.0 - rule.rate) ** (c * weight[g])) * (e - trust)
    return trust


@dataclass(frozen=True)
class EvidenceRule:
    """How a batch's ratings become chance-corrected trust evidence (see the module docstring).

    ``scale``: the distance, in rating points, at which a rating counts as wholly off its target
    (``ClipRule.agreement_scale``). ``par``: the share of the reference rater's excess over chance
    that earns full evidence, so that judging noise typical of honest peers costs nothing.
    ``informative``: how far apart a rater's targets must be (1 - the chance closeness a perfect
    rater would have on them) for its batch evidence to count for all of its tasks; closer
    together, for proportionally fewer. ``signal``: the others' reference excess at which the
    batch counts fully (as a share of it, again for proportionally fewer). ``doubt``: how many standard errors of a
    rater's excess are taken off it first (0: none), so that guesses which happen to land near
    the targets in one batch earn little."""

    scale: float = 3.0
    par: float = 0.7
    doubt: float = 1.0
    informative: float = 0.5
    signal: float = 0.2

    def __post_init__(self) -> None:
        for name in ("scale", "par", "informative", "signal"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"EvidenceRule.{name} must be a finite number above 0, got {value!r}")
        if not (math.isfinite(self.doubt) and self.doubt >= 0):
            raise InputError(f"EvidenceRule.doubt must be a finite number of 0 or more, got {self.doubt!r}")


@dataclass(frozen=True)
class BatchEvidence:
    """Per rater, row ``i`` for rater ``i``; column ``ORDINARY`` for consensus tasks, ``GOLD`` for gold ones."""

    evidence: FloatArray  # (raters, 2) in [0, 1]; NaN: no evidence of that kind
    counts: FloatArray  # (raters, 2) how many observations each stands for: its tasks x the batch's weight
    excess: FloatArray  # (raters, 2) observed - chance closeness; NaN: none measured
    reference: FloatArray  # (raters, 2) the others' reference excess, less its doubt; NaN: none


def closeness(rating: FloatArray, target: FloatArray, scale: float) -> FloatArray:
    """1 for a rating on its target, falling linearly to 0 at ``scale`` points away."""
    result: FloatArray = np.maximum(0.0, 1.0 - np.abs(rating - target) / scale)
    return result


def chance_closeness(group: IntArray, rating: FloatArray, target: FloatArray, scale: float) -> FloatArray:
    """Per rating, the mean :func:`closeness` of that rating to the targets of the *other*
    ratings in its group (NaN in a group of one): what the rating would earn if its group's
    ratings were paired with its targets at random. Exact, in O(n log n): the targets are sorted
    once per group, and the closeness to all targets within ``scale`` of a rating, being linear
    in the target on either side of it, is read off prefix sums."""
    lo = float(min(rating.min(), target.min()))
    span = float(max(rating.max(), target.max())) - lo + 2 * scale + 1  # keeps every group's window in its group
    x, t = rating - lo, target - lo
    keys = group * span + t
    order = np.argsort(keys, kind="stable")
    keys, t_sorted = keys[order], t[order]
    prefix = np.concatenate([[0.0], np.cumsum(t_sorted)])
    at = group * span + x
    a = np.searchsorted(keys, at - scale, "left")
    b = np.searchsorted(keys, at, "right")
    c = np.searchsorted(keys, at + scale, "right")
    below = (b - a) * (1 - x / scale) + (prefix[b] - prefix[a]) / scale
    above = (c - b) * (1 + x / scale) - (prefix[c] - prefix[b]) / scale
    size = np.bincount(group)[group]
    others = np.maximum(0.0, below + above - closeness(rating, target, scale))
    result: FloatArray = np.where(size > 1, others / np.maximum(size - 1, 1), np.nan)
    return result


def _check_batch(rater: IntArray, rating: FloatArray, target: FloatArray, task: IntArray, gold: BoolArray,
                 weight: FloatArray) -> None:  # fmt: skip
    n = len(rater)
    if not len(rating) == len(target) == len(task) == len(gold) == n:
        raise InputError(
            f"got {n} raters, {len(rating)} ratings, {len(target)} targets, {len(task)} tasks and {len(gold)} gold "
            "flags; give one of each per rating"
        )
    if n and not (rater.min() >= 0 and rater.max() < len(weight)):
        raise InputError(f"rater indices must lie in [0, {len(weight)}) (one weight per rater), got {rater.max()}")
    for what, values in (("rating", rating), ("target", target), ("rater weight", weight)):
        if not np.isfinite(values).all():
            raise InputError(f"every {what} must be a finite number, got {values[~np.isfinite(values)][0]!r}")
    if (weight < 0).any():
        raise InputError(f"rater weights must be 0 or more, got {weight[weight < 0][0]!r}")


def _references(excess: FloatArray, weight: FloatArray) -> FloatArray:
    """Per rater and column, the weighted median of the *other* raters' measured excesses (NaN:
    nobody else measured); the others count equally when they all weigh 0."""
    out = np.full(excess.shape, np.nan)
    for k in range(excess.shape[1]):
        out[:, k] = leave_one_out_medians(excess[None, :, k], weight[None, :])[0]
    return out


def batch_evidence(rater: IntArray, rating: FloatArray, target: FloatArray, task: IntArray, gold: BoolArray,
                   weight: FloatArray, rule: EvidenceRule) -> BatchEvidence:  # fmt: skip
    """One batch's chance-corrected evidence about each rater (see the module docstring).

    One entry per rating: ``rater[n]`` (an index into ``weight``, each rater's stake x trust
    weight) rated a response of task ``task[n]`` ``rating[n]`` (1-10) against ``target[n]``,
    the consensus median or, when ``gold[n]``, the truth. A rater's chance baseline pools all of
    its ratings in the batch; its observed closeness, excess and evidence are taken per kind."""
    _check_batch(rater, rating, target, task, gold, weight)
    raters = len(weight)
    shape = (raters, 2)
    if not len(rater):
        nan = np.full(shape, np.nan)
        return BatchEvidence(nan, np.zeros(shape), nan.copy(), nan.copy())
    chance = chance_closeness(rater, rating, target, rule.scale)
    seen = ~np.isnan(chance)
    cell = (rater * 2 + gold)[seen]
    gain = (closeness(rating, target, rule.scale) - chance)[seen]  # each rating's closeness above chance
    ratings = np.bincount(cell, minlength=2 * raters).reshape(shape)
    total = np.bincount(cell, gain, 2 * raters).reshape(shape)
    squares = np.bincount(cell, gain**2, 2 * raters).reshape(shape)
    n = np.maximum(ratings, 1)
    # how far apart the targets themselves are: 1 - the chance closeness a perfect rater would have
    apart = (
        1.0
        - np.bincount(cell, chance_closeness(rater, target, target, rule.scale)[seen], 2 * raters).reshape(shape) / n
    )
    excess = np.where(ratings > 0, total / n, np.nan)
    spread = np.sqrt(np.maximum(0.0, squares / n - (total / n) ** 2) / n)  # the standard error of that mean
    pairs = np.unique(cell.astype(np.int64) * (int(task.max()) + 1) + task[seen])
    tasks = np.bincount(pairs // (int(task.max()) + 1), minlength=2 * raters).reshape(shape)
    # less its doubt, so that a lucky batch of guesses does not pass for judgement, nor a batch
    # of alike answers, where every excess is noise around 0, for a batch that tells raters apart
    doubted = excess - rule.doubt * spread
    reference = _references(doubted, weight)
    live = reference > 0  # a batch the others did not rate surely better than chance says nothing
    safe = np.where(live, reference, 1.0)
    evidence = np.where(live & (ratings > 0), np.clip(doubted / (rule.par * safe), 0.0, 1.0), np.nan)
    # a batch counts as far as its targets are apart and as far as the others beat chance on it:
    # on a batch of alike answers the excesses are noise, and count for little
    share = np.where(live, np.minimum(1.0, apart / rule.informative) * np.minimum(1.0, safe / rule.signal), 0.0)
    counts = np.where(np.isnan(evidence), 0.0, tasks * share)
    # gold is measured against the truth, so plain accuracy counts too: a rater far off the truth
    # (biased, or constant) is caught even when the truth is the same for every answer
    accuracy = np.bincount(cell, closeness(rating, target, rule.scale)[seen], 2 * raters).reshape(shape) / n
    held = ratings[:, GOLD] > 0
    gold_live = ~np.isnan(evidence[:, GOLD])
    evidence[:, GOLD] = np.where(held, np.where(gold_live, np.minimum(evidence[:, GOLD], accuracy[:, GOLD]),
                                                accuracy[:, GOLD]), np.nan)  # fmt: skip
    counts[:, GOLD] = np.where(held, np.where(gold_live, counts[:, GOLD], tasks[:, GOLD]), 0.0)
    return BatchEvidence(evidence, counts, excess, reference)


def validator_weights(stakes: Mapping[str, int], trust: Mapping[str, float], rule: TrustRule) -> dict[str, float]:
    """stake x trust ** power per validator (stake in wei, scaled to ether so weights stay readable)."""
    return {v: (stake / 1e18) * trust.get(v, rule.initial) ** rule.power for v, stake in stakes.items()}


def pay_shares(pool: int, weights: Mapping[str, float]) -> dict[str, int]:
    """``pool`` wei split in proportion to ``weights``; the rounding remainder goes to the heaviest,
    so the shares add up to ``pool`` exactly. Zero-weight validators get nothing."""
    positive = {v: w for v, w in weights.items() if w > 0}
    if pool < 0:
        raise InputError(f"cannot split a negative pool ({pool})")
    if not positive:
        return {}
    mass = sum(positive.values())
    shares = {v: int(pool * w / mass) for v, w in positive.items()}
    heaviest = max(positive, key=lambda v: (positive[v], v))
    shares[heaviest] += pool - sum(shares.values())
    return shares
