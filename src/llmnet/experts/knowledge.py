"""A folder of domain documents, split into passages and searched with BM25.

    kb = KnowledgeBase.from_folder("knowledge/astronomy")
    kb.retrieve("How far away is the Moon?", k=1)[0].passage.id  # "moon.md#1"

Markdown headings start new passages; long sections are split by paragraph, then by sentence
(``. ! ?`` and Chinese ``。！？；``), into passages of roughly 40-120 words, two CJK characters
counting as one word. Terms come from :func:`llmnet.experts.tokens.tokenize`, so documents and
questions in any language are searched alike. Ranking is deterministic: ties keep document order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from llmnet.errors import ConfigError
from llmnet.experts.tokens import CJK_CHARS, count_words, tokenize

DOCUMENT_SUFFIXES = (".md", ".txt")
MIN_WORDS = 40
MAX_WORDS = 120

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# a Chinese sentence ends at 。！？； (or at the closing quote after one), with or without a space
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])(?![”’」』）])\s*|(?<=[。！？；][”’」』）])\s*")
# CJK characters and full-width punctuation: text between two of them is joined without a space
_CJK_EDGE = re.compile(f"[{CJK_CHARS}\u3000-\u303f\uff00-\uffef]")


@dataclass(frozen=True)
class Passage:
    id: str
    source: str
    title: str
    text: str


@dataclass(frozen=True)
class ScoredPassage:
    passage: Passage
    score: float


@dataclass(frozen=True)
class _Section:
    title: str
    blocks: tuple[str, ...]


def split_passages(text: str, source: str) -> list[Passage]:
    """Passages of one document, numbered ``<source>#1``, ``<source>#2``, … in reading order."""
    default_title = Path(source).stem.replace("_", " ")
    pieces = [
        (section.title or default_title, piece)
        for section in _sections(text)
        for piece in _pack(_sized_blocks(section.blocks))
    ]
    return [Passage(f"{source}#{i}", source, title, body) for i, (title, body) in enumerate(pieces, 1)]


def _sections(text: str) -> Iterator[_Section]:
    title = ""
    blocks: list[str] = []
    lines: list[str] = []
    for line in [*text.splitlines(), ""]:
        stripped = line.strip()
        heading = _HEADING.match(stripped)
        if stripped and not heading:
            lines.append(stripped)
            continue
        if lines:  # a blank line or a heading ends the paragraph
            blocks.append(_join(lines))
            lines = []
        if heading:
            if blocks:
                yield _Section(title, tuple(blocks))
            title, blocks = heading.group(2), []
    if blocks:
        yield _Section(title, tuple(blocks))


def _sized_blocks(blocks: Sequence[str]) -> Iterator[str]:
    """Paragraphs, with any paragraph over ``MAX_WORDS`` cut at sentence ends."""
    for block in blocks:
        if count_words(block) <= MAX_WORDS:
            yield block
            continue
        yield from _pack(part for part in _SENTENCE_END.split(block) if part)


def _pack(parts: Iterable[str]) -> list[str]:
    """Join consecutive parts until a passage reaches ``MIN_WORDS``, never passing ``MAX_WORDS``."""
    passages: list[str] = []
    current: list[str] = []
    for part in parts:
        words = sum(count_words(p) for p in current)
        if current and (words >= MIN_WORDS or words + count_words(part) > MAX_WORDS):
            passages.append(_join(current))
            current = []
        current.append(part)
    if current:
        tail = _join(current)
        if passages and count_words(tail) < MIN_WORDS // 2 and count_words(_join([passages[-1], tail])) <= MAX_WORDS:
            passages[-1] = _join([passages[-1], tail])
        else:
            passages.append(tail)
    return passages


def _join(parts: Sequence[str]) -> str:
    """Parts joined by spaces, except between two CJK ends: Chinese puts no space between sentences."""
    text = parts[0] if parts else ""
    for part in parts[1:]:
        cjk = _CJK_EDGE.match(text[-1:]) and _CJK_EDGE.match(part[:1])
        text = f"{text}{'' if cjk else ' '}{part}"
    return text


class KnowledgeBase:
    """Passages of a document folder, ranked by Okapi BM25 (``bm25s``) over title and text."""

    def __init__(self, passages: Sequence[Passage], name: str = "knowledge") -> None:
        if not passages:
            raise ConfigError(f"knowledge base {name!r} has no passages; add .md or .txt documents with text")
        self.name = name
        self.passages: tuple[Passage, ...] = tuple(passages)
        self._index = bm25s.BM25()
        self._index.index([_terms(p) for p in self.passages], show_progress=False)

    @classmethod
    def from_folder(cls, path: str | Path) -> KnowledgeBase:
        folder = Path(path)
        if not folder.is_dir():
            raise ConfigError(f"knowledge folder {folder} does not exist; create it and add .md or .txt files")
        files = sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in DOCUMENT_SUFFIXES)
        if not files:
            raise ConfigError(f"knowledge folder {folder} has no .md or .txt documents; add some")
        passages = [
            passage
            for file in files
            for passage in split_passages(file.read_text(encoding="utf-8"), file.relative_to(folder).as_posix())
        ]
        return cls(passages, name=folder.name)

    def retrieve(self, query: str, k: int = 3, min_score: float = 0.0) -> list[ScoredPassage]:
        """The ``k`` best passages scoring above ``min_score``; best first, ties in document order."""
        terms = tokenize(query)
        if not terms or k < 1:
            return []
        scores = np.asarray(self._index.get_scores(terms), dtype=np.float64)
        order = np.argsort(-scores, kind="stable")[:k]
        return [ScoredPassage(self.passages[i], float(scores[i])) for i in order if scores[i] > min_score]

    def __len__(self) -> int:
        return len(self.passages)


def _terms(passage: Passage) -> list[str]:
    # the title counts twice: a heading says what its section is about better than any one sentence.
    # bm25s cannot index an empty document; a lone placeholder term keeps passage numbering intact
    return tokenize(f"{passage.title} {passage.title} {passage.text}") or ["\x00"]
