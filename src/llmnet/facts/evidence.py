"""Where a domain's documents state the fact a question asks for.

:class:`EvidenceIndex` splits a :class:`~llmnet.experts.knowledge.KnowledgeBase` into sentences
and finds those that best cover the question's terms (weighted by rarity, the passage title
counting half), among the passages BM25 retrieves for the question and for question + answer
and the best sentences of the whole corpus (which also covers scripts the BM25 tokenizer
does not read)::

    index = EvidenceIndex(KnowledgeBase.from_folder("knowledge/medicine"))
    found = index.find("At what temperature does a fever start?", "38 °C")
    found.sentences[0]   # "A fever is a body temperature of 38 °C (100.4 °F) or higher."
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from llmnet.experts.knowledge import KnowledgeBase, Passage
from llmnet.experts.tokens import STOP_WORDS

#: passages BM25 brings for the question, and again for question + answer
RETRIEVED_PASSAGES = 4
#: sentences within this share of the best one's coverage count as evidence too
FOCUS_MARGIN = 0.85
MAX_FOCUS_SENTENCES = 2

_LATIN = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[^a-z])|(?<=[。！？；])")
_QUESTION_WORDS = frozenset("what which who whom how many much when where why long far big old large".split())


def terms(text: str) -> set[str]:
    """Lower-cased content words (plural "s" folded) and Han character bigrams (single
    characters for runs of one)."""
    out = {_fold(w) for w in _LATIN.findall(text.lower()) if w not in STOP_WORDS and w not in _QUESTION_WORDS}
    for run in _HAN_RUN.findall(text):
        out |= {run[i : i + 2] for i in range(len(run) - 1)} if len(run) > 1 else {run}
    return out


def _fold(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")) else word


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


@dataclass(frozen=True)
class Sentence:
    passage: Passage
    text: str
    terms: frozenset[str]
    title_terms: frozenset[str]


@dataclass(frozen=True)
class Evidence:
    """The sentences that best state what the question asks, their passage, and how much of
    the question they cover (0-1)."""

    passage_id: str
    sentences: tuple[str, ...]
    passage_text: str
    coverage: float
    context: str  # every candidate passage, for facts stated elsewhere in the documents


class EvidenceIndex:
    """The sentences of one domain's documents, for finding evidence."""

    def __init__(self, knowledge: KnowledgeBase) -> None:
        self.knowledge = knowledge
        self.sentences: list[Sentence] = []
        for passage in knowledge.passages:
            title = frozenset(terms(passage.title))
            for text in split_sentences(passage.text):
                self.sentences.append(Sentence(passage, text, frozenset(terms(text)), title))
        counts = Counter(t for s in self.sentences for t in s.terms | s.title_terms)
        n = len(self.sentences) + 1
        self.idf = {t: math.log(1 + n / c) for t, c in counts.items()}
        self._unknown_idf = math.log(1 + n)

    def coverage(self, asked: set[str], sentence: Sentence) -> float:
        """The rarity-weighted share of ``asked`` that ``sentence`` (or, at half weight, its title) has."""
        total = sum(self._weight(t) for t in asked)
        if total == 0:
            return 0.0
        inside = sum(self._weight(t) for t in asked & sentence.terms)
        titled = sum(self._weight(t) for t in (asked & sentence.title_terms) - sentence.terms)
        return (inside + 0.5 * titled) / total

    def _weight(self, term: str) -> float:
        return self.idf.get(term, self._unknown_idf)

    def find(self, question: str, answer: str = "") -> Evidence | None:
        """The best evidence for ``question`` (None if nothing shares a term with it)."""
        asked = terms(question)
        if not asked:
            return None
        candidates = self._candidates(question, answer, asked)
        ranked = sorted(((self.coverage(asked, s), i) for i, s in candidates), key=lambda x: (-x[0], x[1]))
        if not ranked or ranked[0][0] <= 0:
            return None
        best = ranked[0][0]
        focus = [self.sentences[i] for score, i in ranked[:MAX_FOCUS_SENTENCES] if score >= FOCUS_MARGIN * best]
        passages = list(dict.fromkeys(self.sentences[i].passage for _, i in ranked[:6]))
        return Evidence(focus[0].passage.id, tuple(s.text for s in focus), focus[0].passage.text, best,
                        "\n".join(p.text for p in passages))  # fmt: skip

    def _candidates(self, question: str, answer: str, asked: set[str]) -> Iterable[tuple[int, Sentence]]:
        ids = {p.passage.id for p in self.knowledge.retrieve(question, k=RETRIEVED_PASSAGES)}
        if answer:
            ids |= {p.passage.id for p in self.knowledge.retrieve(f"{question} {answer}", k=RETRIEVED_PASSAGES)}
        scan = sorted(
            range(len(self.sentences)),
            key=lambda i: -sum(self._weight(t) for t in asked & self.sentences[i].terms),
        )[:8]
        ids |= {self.sentences[i].passage.id for i in scan}
        return [(i, s) for i, s in enumerate(self.sentences) if s.passage.id in ids]
