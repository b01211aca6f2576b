"""The shipped quality set: labelled questions, near-miss answers and the correctness rule.

    from quality import is_correct, load_items
    item = load_items()[0]
    is_correct(item, item.reference)  # True: every reference passes its own rule

Files under this folder (see README.md): ``questions.jsonl``, ``near_misses.jsonl``,
``domains.json`` and ``knowledge/<domain>/*.md``. A malformed line raises ``ValueError`` naming
the file, the line and the field.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
GENERAL = "general"
LANGUAGES = ("en", "zh")
KINDS = ("fact", "arithmetic", "general")
NEAR_MISS_KINDS = {
    "paraphrase": True,
    "number-words": True,
    "unit-variant": True,
    "right-plus-noise": True,
    "verbose-right": True,
    "wrong-number-right-unit": False,
    "confusable": False,
    "hedge": False,
    "off-topic": False,
}
"""Each near-miss kind and whether answers of that kind are right."""

CORRECTNESS_RULE = (
    "An answer is correct if and only if every group in the question's `accept` list has at least one "
    "regular expression that matches somewhere in the answer, and no regular expression in its `reject` "
    "list matches anywhere in the answer. Matching is Python's `re.search` with `re.IGNORECASE`, applied "
    "to the answer after Unicode NFKC normalisation (full-width digits, letters and signs become their "
    "plain forms, and `℃` becomes `°C`) and with every run of whitespace turned into one space. A "
    "`reject` pattern holds the value of a sibling fact (the other dam's year, the other train's top "
    "speed), so an answer that hedges by giving both values is wrong."
)


@dataclass(frozen=True)
class QualityItem:
    """One labelled question; ``accept`` and ``reject`` are its correctness rule."""

    id: str
    question: str
    domain: str
    lang: str
    kind: str
    reference: str
    accept: tuple[tuple[str, ...], ...]
    reject: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class NearMiss:
    """A hand-made candidate answer to a question of the set, labelled right or wrong."""

    question_id: str
    answer: str
    correct: bool
    kind: str


@dataclass(frozen=True)
class Domain:
    slug: str
    description: str
    language: str


def is_correct(item: QualityItem, answer: str) -> bool:
    """An answer is correct if and only if every group in the question's `accept` list has at least one
    regular expression that matches somewhere in the answer, and no regular expression in its `reject`
    list matches anywhere in the answer. Matching is Python's `re.search` with `re.IGNORECASE`, applied
    to the answer after Unicode NFKC normalisation (full-width digits, letters and signs become their
    plain forms, and `℃` becomes `°C`) and with every run of whitespace turned into one space. A
    `reject` pattern holds the value of a sibling fact (the other dam's year, the other train's top
    speed), so an answer that hedges by giving both values is wrong.
    """
    text = normalise_answer(answer)
    accepted = all(any(_compiled(p).search(text) for p in group) for group in item.accept)
    return accepted and not any(_compiled(p).search(text) for p in item.reject)


def normalise_answer(answer: str) -> str:
    """``normalise_answer("３５\u00a0℃")`` gives ``"35 °C"``."""
    return " ".join(unicodedata.normalize("NFKC", answer).split())


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def domains(root: Path = ROOT) -> dict[str, Domain]:
    """The made-up domains of the set, by slug, from ``domains.json``."""
    raw = json.loads((root / "domains.json").read_text(encoding="utf-8"))
    return {slug: Domain(slug, entry["description"], entry["language"]) for slug, entry in raw.items()}


def knowledge_dir(domain: str, root: Path = ROOT) -> Path:
    """The folder of documents that an expert of ``domain`` holds."""
    if domain not in domains(root):
        raise ValueError(f"unknown domain {domain!r}; choose one of {sorted(domains(root))}")
    return root / "knowledge" / domain


def load_items(root: Path = ROOT) -> list[QualityItem]:
    """Every question of ``questions.jsonl``, in file order."""
    known = set(domains(root)) | {GENERAL}
    path = root / "questions.jsonl"
    items = [_item(row, known, where) for row, where in _rows(path)]
    _check_unique([item.id for item in items], path)
    return items


def load_near_misses(root: Path = ROOT) -> list[NearMiss]:
    """Every line of ``near_misses.jsonl``; each names a question of ``questions.jsonl``."""
    ids = {item.id for item in load_items(root)}
    return [_near_miss(row, ids, where) for row, where in _rows(root / "near_misses.jsonl")]


def _rows(path: Path) -> list[tuple[dict[str, Any], str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not valid JSON ({exc.msg}); write one JSON object per line") from None
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}")
        rows.append((row, where))
    return rows


def _item(row: dict[str, Any], known_domains: set[str], where: str) -> QualityItem:
    kind = _choice(row, "kind", KINDS, where)
    domain = _choice(row, "domain", sorted(known_domains), where)
    source = _text(row, "source", where, empty=domain == GENERAL)
    return QualityItem(
        id=_text(row, "id", where),
        question=_text(row, "question", where),
        domain=domain,
        lang=_choice(row, "lang", LANGUAGES, where),
        kind=kind,
        reference=_text(row, "reference", where),
        accept=tuple(tuple(_patterns(group, "accept", where)) for group in _groups(row, where)),
        reject=tuple(_patterns(row.get("reject", []), "reject", where)),
        source=source,
    )


def _near_miss(row: dict[str, Any], question_ids: set[str], where: str) -> NearMiss:
    question_id = _text(row, "question_id", where)
    if question_id not in question_ids:
        raise ValueError(f"{where}: field 'question_id' is {question_id!r}, which no question in the set has")
    correct = row.get("correct")
    if not isinstance(correct, bool):
        raise ValueError(f"{where}: field 'correct' is {correct!r}; write true or false")
    kind = _choice(row, "kind", sorted(NEAR_MISS_KINDS), where)
    return NearMiss(question_id, _text(row, "answer", where), correct, kind)


def _text(row: dict[str, Any], field: str, where: str, empty: bool = False) -> str:
    value = row.get(field, "" if empty else None)
    if not isinstance(value, str) or not (value.strip() or empty):
        raise ValueError(f"{where}: field {field!r} is {value!r}; give a non-empty string")
    return value


def _choice(row: dict[str, Any], field: str, allowed: tuple[str, ...] | list[str], where: str) -> str:
    value = row.get(field)
    if value not in allowed:
        raise ValueError(f"{where}: field {field!r} is {value!r}; use one of {list(allowed)}")
    return str(value)


def _groups(row: dict[str, Any], where: str) -> list[Any]:
    groups = row.get("accept")
    if not isinstance(groups, list) or not groups or not all(isinstance(g, list) and g for g in groups):
        raise ValueError(f"{where}: field 'accept' is {groups!r}; give a list of non-empty lists of patterns")
    return groups


def _patterns(values: Any, field: str, where: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"{where}: field {field!r} is {values!r}; give a list of regular expressions")
    for pattern in values:
        try:
            _compiled(pattern)
        except re.error as exc:
            raise ValueError(f"{where}: field {field!r}: pattern {pattern!r} does not compile ({exc})") from None
    return values


def _check_unique(ids: list[str], path: Path) -> None:
    seen: set[str] = set()
    for item_id in ids:
        if item_id in seen:
            raise ValueError(f"{path.name}: id {item_id!r} is used twice; give every question its own id")
        seen.add(item_id)
