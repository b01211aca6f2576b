"""How a validator rates answers: judges that score each answer 1-10.

A judge is one small class with one required method, :meth:`Judge.rate`. Built in:

* :class:`ReferenceJudge` - token overlap with a known reference answer; cheap, no model.
* :class:`LLMJudge` - asks a backend to grade each answer on a rubric, at temperature 0.
* :class:`CombinedJudge` - the reference judge blended with the LLM judge when a reference
  exists, the LLM judge alone otherwise.
* :class:`FakeJudge` - scripted scores, for tests.
* :class:`~llmnet.roles.grounded.GroundedJudge` - checks answers against the domain's documents.

:meth:`Judge.rate_detailed` also returns what the model said and which scores could not be
parsed (those get the neutral 5). :func:`llmnet.roles.pairwise.pairwise_prefer` asks a backend
which of two answers is better in both orders, so a model that favours a position is caught::

    judge = LLMJudge(FakeBackend(lambda request: "Score: 8"))
    judge.rate("Capital of France?", {"0xA": "Paris"})  # {"0xA": 8.0}
"""

from __future__ import annotations

import math
import re
import statistics
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from llmnet.backends.base import Backend, ChatMessage, GenerationRequest
from llmnet.errors import InputError
from llmnet.experts.tokens import CJK_CHARS, cjk_terms, normalize_text

MIN_SCORE = 1.0
MAX_SCORE = 10.0
NEUTRAL_SCORE = 5.0

DEFAULT_RUBRIC = (
    "Rate the answer on a scale from 1 to 10, where 1 is wrong or useless and 10 is fully correct, "
    "complete and clear. Judge correctness first, then completeness, then clarity."
)


@dataclass(frozen=True)
class JudgeResult:
    """Scores per answer key, the judge's raw replies, and the keys whose score was not parsed."""

    scores: dict[str, float]
    raw_outputs: dict[str, str] = field(default_factory=dict)
    parse_failures: tuple[str, ...] = ()


class Judge(ABC):
    """Scores each answer to a question from 1 (worst) to 10 (best)."""

    #: cannot rate without a reference answer
    needs_reference: ClassVar[bool] = False
    #: calls a language model
    uses_model: ClassVar[bool] = False
    #: checks answers against the question's domain: callers pass ``domain=`` only to these
    reads_domain: ClassVar[bool] = False

    @abstractmethod
    def rate(self, question: str, answers: Mapping[str, str], reference: str | None = None,
             *, domain: str | None = None) -> dict[str, float]:  # fmt: skip
        """A score in [1, 10] for every key of ``answers``; ``domain`` is the question's (a judge
        holding that domain's documents may check answers against them; others ignore it)."""

    def rate_detailed(self, question: str, answers: Mapping[str, str], reference: str | None = None,
                      *, domain: str | None = None) -> JudgeResult:  # fmt: skip
        """:meth:`rate` with the judge's working; judges without any just return the scores."""
        if self.reads_domain:
            return JudgeResult(self.rate(question, answers, reference, domain=domain))
        return JudgeResult(self.rate(question, answers, reference))

    def identity(self) -> tuple[str, str]:
        """(model id, 0x sha256 of its weights or the zero hash): what a validator registers, so
        it is never asked to judge a respondent running the same weights."""
        return (f"judge-{type(self).__name__.removesuffix('Judge').lower() or 'custom'}", "0x" + "00" * 32)


def clamp_score(score: float) -> float:
    return min(MAX_SCORE, max(MIN_SCORE, score))


# --- reference judge ------------------------------------------------------------------------------

_TOKEN = re.compile(rf"\d+(?:[.,]\d+)*|[{CJK_CHARS}]+|[^\W\d_{CJK_CHARS}]+")
_CJK_START = re.compile(f"[{CJK_CHARS}]")
_STOPWORD_TEXT = (
    "a an the is are was were be been being of to in on at by for with and or but not it its this that "
    "these those as from into than then so do does did has have had i you he she we they them his her "
    "their our your my what which who whom whose when where why how answer s t d ll re ve m"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def tokens(text: str) -> list[str]:
    """Lowercase words and numbers; punctuation dropped, "1,000" read as "1000", a plural "s" cut.
    Runs of Chinese (or other CJK) characters give their characters and pairs of characters, as
    in retrieval (:func:`llmnet.experts.tokens.cjk_terms`), so a Chinese reference can be matched.

    >>> tokens("答案是三十七公里")
    ['答', '答案', '案', '案是', '是三', '三', '三十', '十', '十七', '七', '七公', '公', '公里', '里']
    """
    out = []
    for tok in _TOKEN.findall(normalize_text(text)):
        if _CJK_START.match(tok):
            out.extend(cjk_terms(tok))
            continue
        if tok[0].isdigit():
            tok = tok.replace(",", "")
        elif len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
            tok = tok[:-1]
        out.append(tok)
    return out


def key_tokens(words: list[str]) -> set[str]:
    """The words that carry meaning: all but stop words (all, if nothing else is left)."""
    keys = {w for w in words if w not in _STOPWORDS}
    return keys or set(words)


def _weight(token: str) -> float:
    return 2.0 if token[0].isnumeric() else 1.0  # a wrong number is a wrong answer (七 counts too)


def overlap_score(question: str, answer: str, reference: str) -> float:
    """1-10 from how much of the reference the answer contains (recall, numbers count double)
    and, more lightly, how much of what the answer adds is in the reference (precision).

    Words of the question count for neither: restating the question is neither right nor wrong.
    """
    answer_words = tokens(answer)
    if not answer_words:
        return MIN_SCORE
    asked = set(tokens(question))
    ref_all = key_tokens(tokens(reference))
    if not ref_all:
        return NEUTRAL_SCORE
    ref_keys = (ref_all - asked) or ref_all
    recall = _share(ref_keys & set(answer_words), ref_keys)
    added = key_tokens(answer_words) - asked
    precision = _share(added & ref_all, added) if added else 1.0
    return clamp_score(MIN_SCORE + (MAX_SCORE - MIN_SCORE) * recall * (0.75 + 0.25 * precision))


def _share(part: set[str], whole: set[str]) -> float:
    return sum(_weight(t) for t in part) / sum(_weight(t) for t in whole)


class ReferenceJudge(Judge):
    """Scores by overlap with a reference answer, ignoring case and punctuation.

    An answer containing all of the reference's key words and numbers, and little else
    beyond the question's own words, scores near 10; an empty answer scores 1.

    >>> ReferenceJudge().rate("What is 2 + 2?", {"a": "It is 4.", "b": "5"}, reference="4")
    {'a': 10.0, 'b': 1.0}
    """

    needs_reference = True

    def __init__(self, book: Mapping[str, str] | None = None) -> None:
        # a validator's own reference answers (question, lower-cased -> answer), for questions that
        # arrive without one: gold tasks, whose references the coordinator keeps to itself
        self.book = {q.strip().lower(): a for q, a in (book or {}).items()}

    def rate(self, question: str, answers: Mapping[str, str], reference: str | None = None,
             *, domain: str | None = None) -> dict[str, float]:  # fmt: skip
        reference = reference if reference is not None else self.book.get(question.strip().lower())
        if reference is None:
            raise InputError("ReferenceJudge needs a reference answer; use LLMJudge when there is none")
        return {key: overlap_score(question, text, reference) for key, text in answers.items()}


# --- LLM judge ------------------------------------------------------------------------------------

_NUMBER = r"(\d+(?:\.\d+)?)"
_SCORE_PATTERNS = (
    re.compile(r"scores?\W{0,5}(?:is|of|=)?\W{0,3}" + _NUMBER, re.IGNORECASE),
    re.compile(_NUMBER + r"\s*(?:/|out of)\s*10\b", re.IGNORECASE),
    re.compile(r"(?<![\d./])(?<!of )" + _NUMBER + r"(?![\d])"),  # not a denominator
)


def parse_score(text: str) -> float | None:
    """The first number in [1, 10] after "Score", else before "/10", else anywhere (but not
    a denominator); None if none."""
    for pattern in _SCORE_PATTERNS:
        for match in pattern.finditer(text):
            value = float(match.group(1))
            if MIN_SCORE <= value <= MAX_SCORE:
                return value
    return None


def judge_messages(question: str, answer: str, rubric: str, reference: str | None = None) -> tuple[ChatMessage, ...]:
    """The rubric and reply format as the system message; the case to grade as the user message.

    Small models follow this layout better than one long instruction (and the user message
    ends in "Score:" so the reply tends to start with the number).
    """
    parts = [f"Question: {question}"]
    if reference is not None:
        parts.append(f"Reference answer (known to be correct): {reference}")
    parts += [f"Answer to rate: {answer}", "Grade the answer. Score:"]
    system = f"{rubric} Reply only in the form 'Score: N' with N an integer from 1 to 10."
    return (ChatMessage("system", system), ChatMessage("user", "\n".join(parts)))


def length_penalties(answers: Mapping[str, str], max_penalty: float = 3.0) -> dict[str, float]:
    """Points to take off answers far longer than the median: none up to twice the median
    length in words, then 2 per doubling, at most ``max_penalty``."""
    lengths = {key: len(text.split()) for key, text in answers.items()}
    typical = statistics.median(lengths.values()) if lengths else 0
    if typical <= 0:
        return dict.fromkeys(answers, 0.0)
    return {
        key: min(max_penalty, max(0.0, 2.0 * (math.log2(n / typical) - 1.0))) if n else 0.0
        for key, n in lengths.items()
    }


class LLMJudge(Judge):
    """Asks ``backend`` to grade each answer on its own against ``rubric`` (temperature 0).

    A reply without a score in 1-10 gets :data:`NEUTRAL_SCORE` and is listed in
    ``JudgeResult.parse_failures``. With ``length_normalize`` answers far longer than the
    median lose points (see :func:`length_penalties`), against judges that favour verbosity.
    """

    uses_model = True

    def __init__(
        self,
        backend: Backend,
        rubric: str = DEFAULT_RUBRIC,
        length_normalize: bool = False,
        *,
        max_tokens: int = 24,
        seed: int = 0,
    ) -> None:
        self.backend = backend
        self.rubric = rubric
        self.length_normalize = length_normalize
        self.max_tokens = max_tokens
        self.seed = seed

    def identity(self) -> tuple[str, str]:
        weights = self.backend.weights_sha256
        return self.backend.model_id, ("0x" + weights) if weights else "0x" + "00" * 32

    def rate(self, question: str, answers: Mapping[str, str], reference: str | None = None,
             *, domain: str | None = None) -> dict[str, float]:  # fmt: skip
        return self.rate_detailed(question, answers, reference).scores

    def rate_detailed(self, question: str, answers: Mapping[str, str], reference: str | None = None,
                      *, domain: str | None = None) -> JudgeResult:  # fmt: skip
        scores: dict[str, float] = {}
        raw: dict[str, str] = {}
        failures: list[str] = []
        for key, answer in answers.items():
            if not answer.strip():
                scores[key], raw[key] = MIN_SCORE, ""
                continue
            raw[key] = self._ask(question, answer, reference)
            parsed = parse_score(raw[key])
            if parsed is None:
                failures.append(key)
            scores[key] = NEUTRAL_SCORE if parsed is None else parsed
        if self.length_normalize:
            penalties = length_penalties(answers)
            scores = {key: clamp_score(s - penalties[key]) for key, s in scores.items()}
        return JudgeResult(scores, raw, tuple(failures))

    def _ask(self, question: str, answer: str, reference: str | None) -> str:
        messages = judge_messages(question, answer, self.rubric, reference)
        request = GenerationRequest(messages, max_tokens=self.max_tokens, temperature=0.0, seed=self.seed)
        return self.backend.complete(request).text


# --- combined and fake judges ---------------------------------------------------------------------


class CombinedJudge(Judge):
    """``reference_weight * reference + (1 - reference_weight) * llm`` when a reference is
    given, the LLM judge alone when not."""

    uses_model = True

    def __init__(self, reference_judge: Judge, llm_judge: Judge, reference_weight: float = 0.7) -> None:
        if not 0.0 <= reference_weight <= 1.0:
            raise InputError(f"reference_weight must be in [0, 1], got {reference_weight}")
        self.reference_judge = reference_judge
        self.llm_judge = llm_judge
        self.reference_weight = reference_weight

    def rate(self, question: str, answers: Mapping[str, str], reference: str | None = None,
             *, domain: str | None = None) -> dict[str, float]:  # fmt: skip
        return self.rate_detailed(question, answers, reference).scores

    def identity(self) -> tuple[str, str]:
        return self.llm_judge.identity()

    def rate_detailed(self, question: str, answers: Mapping[str, str], reference: str | None = None,
                      *, domain: str | None = None) -> JudgeResult:  # fmt: skip
        llm = self.llm_judge.rate_detailed(question, answers, reference)
        if reference is None:
            return llm
        by_reference = self.reference_judge.rate(question, answers, reference)
        w = self.reference_weight
        scores = {key: w * by_reference[key] + (1 - w) * llm.scores[key] for key in answers}
        return JudgeResult(scores, llm.raw_outputs, llm.parse_failures)


ScoreScript = Mapping[str, float] | Callable[[str, str], float]


class FakeJudge(Judge):
    """Scripted scores: a mapping answer key -> score (``default`` for keys not in it), or a
    function ``(key, answer) -> score``. Scores are returned as scripted, unchecked, so tests
    can also feed out-of-range values. Every call is recorded in ``calls``.

    >>> FakeJudge({"0xA": 9}).rate("q", {"0xA": "yes", "0xB": "no"})
    {'0xA': 9.0, '0xB': 5.0}
    """

    def __init__(self, script: ScoreScript | None = None, default: float = NEUTRAL_SCORE) -> None:
        self.script: ScoreScript = script if script is not None else {}
        self.default = default
        self.calls: list[tuple[str, dict[str, str], str | None]] = []

    def rate(self, question: str, answers: Mapping[str, str], reference: str | None = None,
             *, domain: str | None = None) -> dict[str, float]:  # fmt: skip
        self.calls.append((question, dict(answers), reference))
        if callable(self.script):
            score_of = self.script
            return {key: float(score_of(key, text)) for key, text in answers.items()}
        table = self.script
        return {key: float(table.get(key, self.default)) for key in answers}
