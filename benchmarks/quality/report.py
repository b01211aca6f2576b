"""bench_quality's figures, computed from the saved answers only (so anyone can recompute them)."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quality.dataset import QualityItem
from quality.runs import AnswerRecord

GOOD_SCORE = 5.5  # a consensus score at or above this counts as the validators calling an answer good


@dataclass(frozen=True)
class Row:
    """One line of the side-by-side table."""

    label: str
    n: int
    correct: int
    tokens: float  # mean respondent tokens per request
    p50_s: float
    ttft_p50_s: float | None
    easy_tokens: float | None = None  # mean respondent tokens on the easiest third

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


def _p50(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None


def row(label: str, records: Sequence[AnswerRecord], easy: set[str] | None = None) -> Row:
    easy_tokens = None
    if easy is not None:
        picked = [r.tokens for r in records if r.item in easy]
        easy_tokens = statistics.fmean(picked) if picked else None
    return Row(label, len(records), sum(r.correct for r in records),
               statistics.fmean(r.tokens for r in records) if records else 0.0,
               _p50(r.latency_s for r in records) or 0.0, _p50(r.ttft_s for r in records), easy_tokens)  # fmt: skip


def by_config(records: Iterable[AnswerRecord]) -> dict[str, list[AnswerRecord]]:
    out: dict[str, list[AnswerRecord]] = defaultdict(list)
    for r in records:
        out[r.config].append(r)
    return out


def _by_provider_and_item(singles: Mapping[str, list[AnswerRecord]]) -> dict[tuple[str, str], AnswerRecord]:
    return {(r.provider, r.item): r for rs in singles.values() for r in rs}


def own_expert(items: Sequence[QualityItem], singles: Mapping[str, list[AnswerRecord]],
               expert_of: Mapping[str, str]) -> list[AnswerRecord]:  # fmt: skip
    """Each question answered by its own domain's expert alone (``expert_of``: domain -> provider)."""
    index = _by_provider_and_item(singles)
    return [index[(expert_of[item.domain], item.id)] for item in items]


def random_routing(items: Sequence[QualityItem], singles: Mapping[str, list[AnswerRecord]],
                   seed: int = 0) -> list[AnswerRecord]:  # fmt: skip
    """Each question answered by one provider drawn at random (k = 1), from the same answers."""
    rng = random.Random(seed)
    index = _by_provider_and_item(singles)
    providers = sorted({provider for provider, _ in index})
    return [index[(rng.choice(providers), item.id)] for item in items]


def easiest_third(items: Sequence[QualityItem], singles: Mapping[str, list[AnswerRecord]]) -> set[str]:
    """The third of the questions most providers answered right alone (ties in set order): a
    difficulty that does not depend on the network being measured."""
    right: dict[str, int] = defaultdict(int)
    for rs in singles.values():
        for r in rs:
            right[r.item] += r.correct
    ranked = sorted(items, key=lambda item: -right[item.id])
    return {item.id for item in ranked[: len(items) // 3]}


def ceiling(items: Sequence[QualityItem], records: Iterable[AnswerRecord]) -> tuple[int, int]:
    """(questions some respondent answered right, questions)."""
    right = {r.item for r in records if r.correct}
    return sum(item.id in right for item in items), len(items)


def detection(items: Sequence[QualityItem], routed: Sequence[AnswerRecord]) -> dict[str, tuple[int, int]]:
    """Domain detection of llmnet/auto: (right, asked) overall and per language."""
    lang = {item.id: item.lang for item in items}
    truth = {item.id: item.domain for item in items}
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in routed:
        for key in ("all", lang[r.item]):
            out[key][0] += r.routed == truth[r.item]
            out[key][1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def confusion(pairs: Iterable[tuple[bool, bool]]) -> dict[str, int]:
    """(truly right, judged good) pairs -> the confusion table's four cells."""
    cells = {"right, rated good": 0, "right, rated bad": 0, "wrong, rated good": 0, "wrong, rated bad": 0}
    for right, good in pairs:
        cells[f"{'right' if right else 'wrong'}, rated {'good' if good else 'bad'}"] += 1
    return cells


def agreement(cells: Mapping[str, int]) -> float:
    total = sum(cells.values())
    return (cells["right, rated good"] + cells["wrong, rated bad"]) / total if total else 0.0


def validator_pairs(records: Iterable[AnswerRecord]) -> list[tuple[bool, bool]]:
    """Every respondent answer the validators scored in the network runs."""
    return [(r.correct, r.score >= GOOD_SCORE) for r in records
            if r.config.startswith("respondent:") and r.score is not None]  # fmt: skip


def summary(rows: Sequence[Row], extra: Mapping[str, Any]) -> dict[str, Any]:
    return {"rows": [r.__dict__ | {"accuracy": r.accuracy} for r in rows]} | dict(extra)
