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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from llmnet.experts.knowledge import KnowledgeBase, Passage
from llmnet.experts.tokens import STOP_WORDS
from llmnet.facts.extract import ZH_FUNCTION

#: passages BM25 brings for the question, and again for question + answer
RETRIEVED_PASSAGES = 4
#: sentences within this share of the best one's coverage count as evidence too
FOCUS_MARGIN = 0.85
MAX_FOCUS_SENTENCES = 2
#: sentences an Evidence keeps, best first, for facts of a kind the best ones do not state
RANKED_SENTENCES = 10

_LATIN = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
# Han runs split at the characters that join words (的, 是, 多少 …), so bigrams rarely span two words
_HAN_WORDS = re.compile(rf"(?:(?![{ZH_FUNCTION}])[\u3400-\u4dbf\u4e00-\u9fff])+")
_SENTENCE = re.compile(
    r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bProf\.)(?<!\bSt\.)(?<!\bNo\.)(?<!\bvs\.)"
    r"(?<=[.!?;])\s+(?=[^a-z])|(?<=[。！？；])"
)
# a sentence that starts with one of these is about what the sentence before named
_PRONOUN_START = re.compile(r"^(?:(?:it|its|they|their|this|these|he|she|his|her|there|each)\b|[它其该这他她])", re.I)
_POSSESSIVE = re.compile(r"['’]s\b")
_QUESTION_WORDS = frozenset(
    {
        "what",
        "which",
        "who",
        "whom",
        "how",
        "many",
        "much",
        "when",
        "where",
        "why",
        "long",
        "far",
        "big",
        "old",
        "large",
    }
)


def terms(text: str) -> set[str]:
    """Lower-cased content words (plural "s" folded) and Han character bigrams (single
    characters for runs of one)."""
    words = _LATIN.findall(_POSSESSIVE.sub("", text.lower()))
    out = {_fold(w) for w in words if w not in STOP_WORDS and w not in _QUESTION_WORDS}
    for run in _HAN_WORDS.findall(text):
        out |= {run[i : i + 2] for i in range(len(run) - 1)} if len(run) > 1 else {run}
    return out


def _fold(word: str) -> str:
    """A light stemmer, the same for questions and documents: "starting", "started", "starts" -> "start"."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word  # "dose", "dosing" -> "dos"


def _said(term: str, said: frozenset[str]) -> bool:
    return term in said or any(other in said for other in SAME_ASK.get(term, ()))


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


# words a question asks with that the documents say otherwise ("How tall?" - "58 metres high")
_SAME_ASK_WORDS: dict[str, tuple[str, ...]] = {
    "tall": ("high", "height"), "high": ("height", "tall", "altitude"), "long": ("length", "last"),
    "far": ("distance", "away"), "old": ("age", "aged"), "big": ("size", "area"), "large": ("size", "area"),
    "area": ("cover",), "deep": ("depth",), "wide": ("width",), "heavy": ("weight", "weigh"),
    "cost": ("price",), "price": ("cost",), "start": ("began", "begin", "open", "first"),
    "finished": ("completed", "built"), "completed": ("finished", "built"), "built": ("completed", "constructed"),
    "founded": ("established",), "lead": ("led", "head", "chairman"), "die": ("died", "killed", "death"),
    "died": ("killed", "death"), "killed": ("died", "death"), "voltage": ("volt",),
    "power": ("watt", "kilowatt", "megawatt"), "weight": ("weigh", "kg", "kilogram", "tonne"),
    "speed": ("km", "kilometre", "mph"),
}  # fmt: skip
SAME_ASK = {_fold(k): tuple(_fold(v) for v in vs) for k, vs in _SAME_ASK_WORDS.items()}  # stemmed like terms()


@dataclass(frozen=True)
class Sentence:
    passage: Passage
    text: str
    terms: frozenset[str]
    near_terms: frozenset[str]  # its passage's title, first sentence and the sentence before: what "it" is
    refers_back: bool = False  # starts with "It", "Its", "They" …: the sentence before names its subject
    previous: str = ""  # the sentence before it in its passage


@dataclass(frozen=True)
class Evidence:
    """The sentences that best state what the question asks (``ranked``, best first, with how
    much of the question each covers, 0-1), and the candidate passages as ``context``."""

    ranked: tuple[tuple[str, float], ...]
    passage_id: str
    context: str  # every candidate passage, for facts stated elsewhere in the documents
    weights: Mapping[str, float]  # how rare each term is in the documents
    previous: Mapping[str, str] = field(default_factory=dict)  # sentence -> the one before it in its passage
    following: Mapping[str, str] = field(default_factory=dict)  # sentence -> the next, if that refers back to it

    def before_best(self) -> str:
        """The sentence before the best one ("Under the treaty, …" names its treaty there)."""
        return self.previous.get(self.ranked[0][0], "")

    def after_best(self) -> str:
        """The sentence after the best one, when it refers back to it ("Her successor, …")."""
        return self.following.get(self.ranked[0][0], "")

    def weight(self, term: str) -> float:
        return self.weights.get(term, 1.0)

    @property
    def coverage(self) -> float:
        return self.ranked[0][1]

    @property
    def sentences(self) -> tuple[str, ...]:
        """The best sentence and those close to it."""
        best = self.coverage
        return tuple(t for t, c in self.ranked[:MAX_FOCUS_SENTENCES] if c >= FOCUS_MARGIN * best)


class EvidenceIndex:
    """The sentences of one domain's documents, for finding evidence."""

    def __init__(self, knowledge: KnowledgeBase) -> None:
        self.knowledge = knowledge
        self.sentences: list[Sentence] = []
        for passage in knowledge.passages:
            topic = terms(passage.title)
            before: set[str] = set()
            previous = ""
            for text in split_sentences(passage.text):
                own = terms(text)
                back = _PRONOUN_START.match(text) is not None
                near = frozenset((topic | before) - own)
                self.sentences.append(Sentence(passage, text, frozenset(own), near, back, previous))
                topic = topic | own if not before else topic  # the passage's first sentence sets its topic
                before, previous = own, text
        counts = Counter(t for s in self.sentences for t in s.terms)
        n = len(self.sentences) + 1
        self.idf = {t: math.log(1 + n / c) for t, c in counts.items()}
        # a word no document has is as likely a plain verb ("came") as a missing name: an ordinary weight
        self._unknown_idf = sum(self.idf.values()) / len(self.idf) if self.idf else 1.0

    def coverage(self, asked: set[str], sentence: Sentence) -> float:
        """The rarity-weighted share of ``asked`` that ``sentence`` has (at half weight, what
        only its title or the sentence before has)."""
        asked = {t for t in asked if t in self.idf or t.isascii()}  # a Han bigram no document has spans two words
        total = sum(self._weight(t) for t in asked)
        if total == 0:
            return 0.0
        inside = sum(self._weight(t) for t in asked if _said(t, sentence.terms))
        near = sum(self._weight(t) for t in asked if not _said(t, sentence.terms) and _said(t, sentence.near_terms))
        return (inside + (0.75 if sentence.refers_back else 0.5) * near) / total

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
        top = ranked[:RANKED_SENTENCES]
        passages = list(dict.fromkeys(self.sentences[i].passage for _, i in top))
        previous = {self.sentences[i].text: self.sentences[i].previous for _, i in top}
        following = {self.sentences[i].text: self._following(i) for _, i in top}
        return Evidence(tuple((self.sentences[i].text, score) for score, i in top), passages[0].id,
                        "\n".join(p.text for p in passages), self.idf, previous, following)  # fmt: skip

    def _following(self, i: int) -> str:
        after = self.sentences[i + 1] if i + 1 < len(self.sentences) else None
        same = after is not None and after.passage == self.sentences[i].passage and after.refers_back
        return after.text if after is not None and same else ""

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
