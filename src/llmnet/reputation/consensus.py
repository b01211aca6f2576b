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

from llmnet.errors import InputError

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
    pairs = sorted(
        (_check_finite(v, "a value"), _check_finite(w, "a weight")) for v, w in zip(values, weights, strict=True)
    )
    if any(w < 0 for _, w in pairs):
        raise InputError(f"weights must be 0 or more, got {list(weights)}")
    pairs = [(v, w) for v, w in pairs if w > 0]
    total = sum(w for _, w in pairs)
    if not pairs:
        raise InputError("cannot take a weighted median without any positive weight")
    cumulative = 0.0
    for i, (value, weight) in enumerate(pairs):
        cumulative += weight
        if math.isclose(2 * cumulative, total, rel_tol=1e-12) and i + 1 < len(pairs):
            return (value + pairs[i + 1][0]) / 2
        if 2 * cumulative >= total:
            return value
    return pairs[-1][0]  # unreachable except through float rounding


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

    >>> c = robust_consensus({"h1": {"a": 7}, "h2": {"a": 7}, "h3": {"a": 8}, "x": {"a": 10}},
    ...                      {"h1": 1, "h2": 1, "h3": 1, "x": 1})
    >>> c.medians["a"], c.scores["a"], c.clipped["x"]
    (7.5, 7.5, 1)
    """
    rule = rule or ClipRule()
    if not ratings:
        raise InputError("no ratings to combine: need at least one validator's scores")
    by_respondent: dict[str, list[tuple[str, float, float]]] = {}
    for validator, scores in ratings.items():
        weight = _check_finite(weights.get(validator, 0.0), f"the weight of validator {validator}")
        for respondent, score in scores.items():
            by_respondent.setdefault(respondent, []).append((validator, _check_finite(score, "a rating"), weight))
    result = Consensus({}, {}, {}, dict.fromkeys(ratings, 0))
    closeness: dict[str, list[float]] = {v: [] for v in ratings}
    for respondent, rows in by_respondent.items():
        if sum(w for _, _, w in rows) <= 0:  # nobody with weight rated it: fall back to equal weights
            rows = [(v, s, 1.0) for v, s, _ in rows]
        m = weighted_median([s for _, s, _ in rows], [w for _, _, w in rows])
        total = mass = 0.0
        for validator, score, weight in rows:
            kept = min(max(score, m - rule.below), m + rule.above)
            if kept != score:
                result.clipped[validator] += 1
            total += weight * kept
            mass += weight
            closeness[validator].append(rule.agreement(score, m))
        result.medians[respondent] = m
        result.scores[respondent] = total / mass if mass > 0 else m
    for validator, values in closeness.items():
        result.agreement[validator] = sum(values) / len(values) if values else 0.0
    return result


def normalize_score(score: float) -> float:
    """A 1-10 rating mapped onto [0, 1] as ``(score - 1) / 9``, clamped.

    >>> normalize_score(10), normalize_score(5.5), normalize_score(0)
    (1.0, 0.5, 0.0)
    """
    value = _check_finite(score, "a rating")
    return min(1.0, max(0.0, (value - MIN_RATING) / (MAX_RATING - MIN_RATING)))
