"""Which of two answers is better, asked of a model in both orders so that position bias shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from llmnet.backends.base import Backend, GenerationRequest

_PAIRWISE_SYSTEM = "You are a strict, fair grader of answers."

Winner = Literal["a", "b", "tie"]

_PAIRWISE_PROMPT = (
    "Question: {question}\n\nAnswer A: {first}\n\nAnswer B: {second}\n\n"
    "Which answer is better (more correct, complete and clear)? "
    "Reply with one letter: A, B, or T if they are equally good."
)
_CHOICE_PATTERNS = (
    re.compile(r"^\W*([ABT])\b"),
    re.compile(r"\b(?:answer|choice|winner|better)\W{0,3}(?:is\W{0,3})?([ABT])\b", re.IGNORECASE),
    re.compile(r"\b([ABT])\b"),
)


@dataclass(frozen=True)
class PairwiseVerdict:
    """``winner`` is "a", "b" or "tie"; ``flipped`` means the judge changed its choice when the
    answers swapped places (position bias), which is scored as a tie."""

    winner: Winner
    flipped: bool
    raw_outputs: tuple[str, str] = ("", "")


def parse_choice(text: str) -> Literal["A", "B", "T"] | None:
    """ "A", "B" or "T" (tie) from a judge's reply; None if it named none."""
    for pattern in _CHOICE_PATTERNS:
        match = pattern.search(text)
        if match:
            letter = match.group(1).upper()
            return "A" if letter == "A" else "B" if letter == "B" else "T"
    return None


def pairwise_prefer(backend: Backend, question: str, a: str, b: str, *, max_tokens: int = 8) -> PairwiseVerdict:
    """Which of answers ``a`` and ``b`` is better, asked as (a, b) and again as (b, a).

    A winner needs both orders to agree (or one to prefer it while the other calls a tie);
    when the orders contradict each other the verdict is a tie with ``flipped=True``.
    """
    first = _ask_choice(backend, question, a, b, max_tokens)
    second = _ask_choice(backend, question, b, a, max_tokens)
    picks = {_pick(parse_choice(first), "a", "b"), _pick(parse_choice(second), "b", "a")} - {"tie"}
    raw = (first, second)
    if len(picks) == 2:
        return PairwiseVerdict("tie", True, raw)
    winner: Winner = "a" if picks == {"a"} else "b" if picks == {"b"} else "tie"
    return PairwiseVerdict(winner, False, raw)


def _pick(choice: str | None, in_a: Winner, in_b: Winner) -> Winner:
    return in_a if choice == "A" else in_b if choice == "B" else "tie"


def _ask_choice(backend: Backend, question: str, first: str, second: str, max_tokens: int) -> str:
    prompt = _PAIRWISE_PROMPT.format(question=question, first=first, second=second)
    request = GenerationRequest.from_prompt(prompt, system=_PAIRWISE_SYSTEM, max_tokens=max_tokens, temperature=0.0)
    return backend.complete(request).text
