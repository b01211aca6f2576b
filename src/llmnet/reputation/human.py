"""Human rankings as reputation evidence (pure, no I/O).

A ranking of n responses places each respondent at a position k (0 = preferred); the respondent's
observation is the score ``1 - k / (n - 1)``: the best gets 1, the worst 0, the others in between.
It enters the same per-(provider, domain) Beta update as validator scores, through the same
settlement batch, scaled by a weight in [0, 1] so that rankings can count for less than the
validators' ratings (or, at 0, not at all).

>>> [(o.provider, o.score) for o in ranking_observations(["0xA", "0xB", "0xC"], "law", [2, 0, 1], 0.5)]
[('0xC', 1.0), ('0xA', 0.5), ('0xB', 0.0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmnet.errors import InputError


@dataclass(frozen=True)
class WeightedObservation:
    """One score in [0, 1] for a (provider, domain) pair, counting ``weight`` of a full observation."""

    provider: str
    domain: str
    score: float
    weight: float


def position_score(position: int, n: int) -> float:
    """The score of the response ranked at ``position`` (0 = best) among ``n``."""
    if n < 2 or not 0 <= position < n:
        raise InputError(f"position {position} is not a place in a ranking of {n} responses")
    return 1.0 - position / (n - 1)


def ranking_observations(
    respondents: Sequence[str], domain: str, ranks: Sequence[int], weight: float
) -> list[WeightedObservation]:
    """One observation per ranked respondent, best first; none when ``weight`` is 0."""
    if not 0.0 <= weight <= 1.0:
        raise InputError(f"the weight of a ranking must be in [0, 1], got {weight}")
    if sorted(ranks) != list(range(len(respondents))):
        raise InputError(f"ranking {list(ranks)} is not a permutation of {len(respondents)} responses")
    if weight == 0.0:
        return []
    n = len(respondents)
    return [
        WeightedObservation(respondents[index], domain, position_score(k, n), weight) for k, index in enumerate(ranks)
    ]
