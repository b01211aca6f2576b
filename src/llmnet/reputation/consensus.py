"""Many validators' ratings reduced to one score per respondent (pure, no I/O).

The rule: for each respondent, take the median of the scores given by the validators that
rated it; a validator that did not rate a respondent is left out of that respondent's
median rather than counted as zero. With an even number of scores the median is the mean
of the two middle ones. A median ignores a minority of outlying validators, so one lazy or
dishonest validator cannot move a respondent's score far.

With ``weights`` (say, each validator's stake) the median is weighted: the smallest score
at which the weight of the scores at or below it reaches half of the total; when it reaches
exactly half, the mean of that score and the next, so equal weights give the plain median.

Validators score 1-10; :func:`normalize_score` maps that onto the [0, 1] the reputation
book records.

>>> median_consensus({"v1": {"a": 8, "b": 2}, "v2": {"a": 6}, "v3": {"a": 9, "b": 4}})
{'a': 8.0, 'b': 3.0}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from llmnet.errors import InputError

FloatArray = NDArray[np.float64]
MIN_RATING = 1.0
MAX_RATING = 10.0


def _check_finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise InputError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def median(values: Sequence[float]) -> float:
    """The plain median; the mean of the two middle values for an even count."""
    if not values:
        raise InputError("cannot take the median of no values")
    ordered = sorted(_check_finite(v, "a rating") for v in values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The weighted median (see the module docstring); zero-weight values do not count.

    >>> weighted_median([1.0, 5.0, 9.0], [1, 1, 5])
    9.0
    """
    if len(values) != len(weights):
        raise InputError(f"got {len(values)} values but {len(weights)} weights; give one weight per value")
    v = np.array([_check_finite(x, "a value") for x in values], dtype=np.float64)
    w = np.array([_check_finite(x, "a weight") for x in weights], dtype=np.float64)
    if (w < 0).any():
        raise InputError(f"weights must be 0 or more, got {list(weights)}")
    if not (w > 0).any():
        raise InputError("cannot take a weighted median without any positive weight")
    return float(weighted_median_rows(v[None, :], w[None, :])[0])


def weighted_median_rows(values: FloatArray, weights: FloatArray) -> FloatArray:
    """:func:`weighted_median` of every row of ``values`` (shape ``(rows, n)``) at once.

    ``weights`` has the same shape; a NaN value or a zero weight leaves an entry out. Every
    row needs a positive weight on a non-NaN value.
    """
    missing = np.isnan(values)
    w = np.where(missing, 0.0, weights)
    v = np.where(missing, np.inf, values)
    order = np.lexsort((w, v), axis=-1)  # by value, then weight, as sorting (value, weight) pairs does
    rows = np.arange(v.shape[0])
    v, w = v[rows[:, None], order], w[rows[:, None], order]
    cum = np.cumsum(w, axis=-1)
    total = cum[:, -1:]
    # math.isclose(2 * cum, total, rel_tol=1e-12), elementwise
    half = np.abs(2 * cum - total) <= 1e-12 * np.maximum(np.abs(2 * cum), np.abs(total))
    positive = w > 0
    at = np.argmax(positive & (half | (2 * cum >= total)), axis=-1)
    later = positive & (np.arange(v.shape[-1]) > at[:, None])
    here, following = v[rows, at], v[rows, np.argmax(later, axis=-1)]
    split = half[rows, at] & later.any(axis=-1)
    result: FloatArray = np.where(split, (here + following) / 2, here)
    return result


def leave_one_out_medians(ratings: FloatArray, weights: FloatArray) -> FloatArray:
    """Per rating, the weighted median of the *other* ratings in its row: what the rest of the
    raters made of that response, which the rating itself did not help to make.

    ``ratings`` has shape ``(rows, raters)``, NaN where a rater did not rate that response;
    ``weights`` broadcasts to it. When the other raters of a row all weigh 0 they count
    equally (as in :func:`consensus_rows`). NaN where the rating is NaN or nobody else rated the
    response. One :func:`weighted_median_rows` per rater column, so cheap for few raters.

    >>> leave_one_out_medians(np.array([[2.0, 8.0, 9.0]]), np.ones(3)).tolist()
    [[8.5, 5.5, 5.0]]
    """
    if ratings.ndim != 2:
        raise InputError(f"ratings must be a (rows, raters) table, got shape {ratings.shape}")
    try:
        w = np.broadcast_to(weights, ratings.shape).astype(np.float64)
    except ValueError:
        raise InputError(
            f"weights of shape {np.shape(weights)} do not fit ratings of shape {ratings.shape}; give one per rater"
        ) from None
    rated = ~np.isnan(ratings)
    bad = w[rated & ~(np.isfinite(w) & (w >= 0))]
    if bad.size:
        raise InputError(f"rater weights must be finite numbers of 0 or more, got {float(bad[0])!r}")
    out = np.full(ratings.shape, np.nan)
    for k in range(ratings.shape[1]):
        others = rated.copy()
        others[:, k] = False
        live = rated[:, k] & others.any(axis=1)
        if not live.any():
            continue
        wk = np.where(others, w, 0.0)[live]
        wk = np.where(wk.sum(axis=1, keepdims=True) > 0, wk, others[live].astype(np.float64))
        out[live, k] = weighted_median_rows(np.where(others, ratings, np.nan)[live], wk)
    return out


def median_consensus(
    ratings: Mapping[str, Mapping[str, float]], weights: Mapping[str, float] | None = None
) -> dict[str, float]:
    """validator -> respondent -> score, reduced to respondent -> median score.

    ``weights`` (validator -> weight, e.g. stake) makes it a weighted median; a validator
    missing from ``weights`` weighs 0.
    """
    if not ratings:
        raise InputError("no ratings to combine: need at least one validator's scores")
    by_respondent: dict[str, list[tuple[float, float]]] = {}
    for validator, scores in ratings.items():
        weight = 1.0 if weights is None else weights.get(validator, 0.0)
        for respondent, score in scores.items():
            by_respondent.setdefault(respondent, []).append((score, weight))
    if weights is None:
        return {r: median([s for s, _ in pairs]) for r, pairs in by_respondent.items()}
    return {r: weighted_median([s for s, _ in ps], [w for _, w in ps]) for r, ps in by_respondent.items()}


@dataclass(frozen=True)
class ClipRule:
    """How far (in rating points) a rating may sit from the consensus median before it is
    clipped to that distance, above and below. Bittensor's Yuma clips only from above, so a
    validator there can still push honest miners down; here both sides are bounded.

    ``agreement_scale``: the distance at which a rating counts as wholly disagreeing."""

    above: float = 0.5
    below: float = 0.5
    agreement_scale: float = 3.0

    def agreement(self, rating: float, target: float) -> float:
        """1 for a rating on ``target``, falling linearly to 0 at ``agreement_scale`` points away."""
        return max(0.0, 1.0 - abs(rating - target) / self.agreement_scale)

    def __post_init__(self) -> None:
        for name in ("above", "below", "agreement_scale"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (name == "agreement_scale" and value == 0):
                raise InputError(f"ClipRule.{name} must be a finite number above 0, got {value!r}")


@dataclass(frozen=True)
class Consensus:
    """The outcome of :func:`robust_consensus` for one task."""

    scores: dict[str, float]  # respondent -> consensus score, 1-10
    medians: dict[str, float]  # respondent -> weighted median of its ratings
    agreement: dict[str, float]  # validator -> [0, 1]: 1 when all its ratings sit on the medians
    clipped: dict[str, int]  # validator -> how many of its ratings were clipped


@dataclass(frozen=True)
class ConsensusRows:
    """:func:`consensus_rows` for many responses at once; row i is one response."""

    scores: FloatArray  # (rows,) consensus score, 1-10
    medians: FloatArray  # (rows,) weighted median
    closeness: FloatArray  # (rows, validators) agreement of each rating with its median; NaN: not rated
    clipped: NDArray[np.bool_]  # (rows, validators)


def consensus_rows(ratings: FloatArray, weights: FloatArray, rule: ClipRule) -> ConsensusRows:
    """The rule of :func:`robust_consensus` on arrays: ``ratings`` of shape ``(rows, validators)``
    (NaN where a validator did not rate that response) and ``weights`` broadcastable to it.
    A row whose raters all weigh 0 falls back to equal weights."""
    rated = ~np.isnan(ratings)
    w = np.where(rated, np.broadcast_to(weights, ratings.shape), 0.0)
    w = np.where((w.sum(axis=-1, keepdims=True) > 0), w, rated.astype(np.float64))
    m = weighted_median_rows(ratings, w)
    kept = np.clip(ratings, m[:, None] - rule.below, m[:, None] + rule.above)
    clipped = rated & (kept != ratings)
    scores = np.where(rated, w * kept, 0.0).sum(axis=-1) / w.sum(axis=-1)
    closeness = np.maximum(0.0, 1.0 - np.abs(ratings - m[:, None]) / rule.agreement_scale)
    return ConsensusRows(scores, m, closeness, clipped)


def robust_consensus(
    ratings: Mapping[str, Mapping[str, float]], weights: Mapping[str, float], rule: ClipRule | None = None
) -> Consensus:
    """validator -> respondent -> score, with validator -> weight (stake x trust), reduced to
    one score per respondent that a minority of the weight cannot move far.

    For each respondent: the weighted median ``m`` of its ratings; every rating clipped into
    ``[m - rule.below, m + rule.above]``; the score is the weighted mean of the clipped
    ratings. Validators holding less than half of the weight cannot move ``m`` outside the
    honest ratings, and can move the mean by at most their weight share times the clip
    distance. Each validator's agreement is ``1 - |rating - m| / rule.agreement_scale``
    (at least 0), averaged over its ratings: the evidence its trust is built from.
    :func:`consensus_rows` applies the same rule to arrays of many responses.

    >>> c = robust_consensus({"h1": {"a": 7}, "h2": {"a": 7}, "h3": {"a": 8}, "x": {"a": 10}},
    ...                      {"h1": 1, "h2": 1, "h3": 1, "x": 1})
    >>> c.medians["a"], c.scores["a"], c.clipped["x"]
    (7.5, 7.5, 1)
    """
    rule = rule or ClipRule()
    if not ratings:
        raise InputError("no ratings to combine: need at least one validator's scores")
    validators = list(ratings)
    w = np.array([_check_finite(weights.get(v, 0.0), f"the weight of validator {v}") for v in validators])
    if (w < 0).any():
        raise InputError(f"validator weights must be 0 or more, got {dict(zip(validators, w.tolist(), strict=True))}")
    respondents = list(dict.fromkeys(r for scores in ratings.values() for r in scores))
    table = np.full((len(respondents), len(validators)), np.nan)
    where = {r: i for i, r in enumerate(respondents)}
    for j, v in enumerate(validators):
        for respondent, score in ratings[v].items():
            table[where[respondent], j] = _check_finite(score, "a rating")
    rows = consensus_rows(table, w, rule)
    rated = ~np.isnan(table)
    counts = rated.sum(axis=0)
    closeness = np.where(rated, rows.closeness, 0.0).sum(axis=0) / np.maximum(counts, 1)
    agreement = dict(zip(validators, closeness.tolist(), strict=True))
    return Consensus(
        scores=dict(zip(respondents, rows.scores.tolist(), strict=True)),
        medians=dict(zip(respondents, rows.medians.tolist(), strict=True)),
        agreement=agreement,
        clipped=dict(zip(validators, rows.clipped.sum(axis=0).tolist(), strict=True)),
    )


def normalize_score(score: float) -> float:
    """A 1-10 rating mapped onto [0, 1] as ``(score - 1) / 9``, clamped.

    >>> normalize_score(10), normalize_score(5.5), normalize_score(0)
    (1.0, 0.5, 0.0)
    """
    value = _check_finite(score, "a rating")
    return min(1.0, max(0.0, (value - MIN_RATING) / (MAX_RATING - MIN_RATING)))


def normalize_scores(scores: FloatArray) -> FloatArray:
    """:func:`normalize_score` of every element (the same formula; a test holds them equal)."""
    result: FloatArray = np.clip((scores - MIN_RATING) / (MAX_RATING - MIN_RATING), 0.0, 1.0)
    return result
