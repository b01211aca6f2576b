"""Dishonest validators' judges, for the adversary suite; none is used by an honest deployment.

- :class:`RandomJudge` rates at random;
- :class:`CollusionJudge` rates honestly except for a friend, who always gets 10;
- :class:`CopyJudge` does not look at the answers at all: it copies what the chain already says,
  rating each respondent by its current on-chain reputation (Bittensor's weight copying).
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from llmnet.chain.ledger import Ledger
from llmnet.roles.judge import Judge


class RandomJudge(Judge):
    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)

    def rate(self, question: str, answers: Mapping[str, str], reference: str | None = None,
             *, domain: str | None = None) -> dict[str, float]:  # fmt: skip
        return {key: float(self.rng.randint(1, 10)) for key in answers}


class CollusionJudge(Judge):
    def __init__(self, inner: Judge, friends: frozenset[str]) -> None:
        self.inner, self.friends = inner, friends

    def rate(self, question: str, answers: Mapping[str, str], reference: str | None = None,
             *, domain: str | None = None) -> dict[str, float]:  # fmt: skip
        honest = self.inner.rate(question, answers, reference)
        return {key: 10.0 if key in self.friends else score for key, score in honest.items()}


class CopyJudge(Judge):
    """Scores = 1 + 9 x each respondent's reputation mean in ``domain``, read from the chain."""

    def __init__(self, ledger: Ledger, domain: str = "general") -> None:
        self.ledger, self.domain = ledger, domain

    def rate(self, question: str, answers: Mapping[str, str], reference: str | None = None,
             *, domain: str | None = None) -> dict[str, float]:  # fmt: skip
        return {key: 1.0 + 9.0 * self.ledger.reputation(key, self.domain).mean() for key in answers}
