"""Rankings read back from the chain and the content store as plain records; filters and agreement (pure).

A :class:`RankedRecord` is one account's current ranking of one conversation, with the texts, the
responses in ranked order and their provenance (model, version, licence, the chain, the contract
and the transaction that recorded the ranking).
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from llmnet.errors import InputError
from llmnet.rlhf.book import RankingEvent, RankingReader, ResponseEntry
from llmnet.rlhf.texts import MissingTexts, TextSource

# SPDX identifiers (compared case-insensitively) of licences that allow reuse with attribution at most
PERMISSIVE = frozenset(
    s.lower() for s in ("MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Unlicense", "CC0-1.0",
                        "CC-BY-4.0", "Zlib", "0BSD")
)  # fmt: skip


@dataclass(frozen=True)
class RankedRecord:
    conversation_id: int
    domain: str
    prompt: str
    ranker: str
    rankers: tuple[str, ...]  # everyone who ranked the conversation
    ranked: tuple[ResponseEntry, ...]  # best first
    texts: tuple[str, ...]  # best first
    ranked_at: int
    chain_id: int
    contract: str
    tx_hash: str  # the transaction of this ranking (its latest revision)
    history: tuple[RankingEvent, ...] = ()  # this account's submissions and revisions

    @property
    def block_number(self) -> int:
        """The block of this ranking's latest submission or revision (0 when its history is unknown)."""
        return self.history[-1].block_number if self.history else 0


def collect_records(book: RankingReader, texts: TextSource) -> tuple[list[RankedRecord], list[MissingTexts]]:
    """Every current ranking on chain whose texts ``texts`` has; and, per conversation, the rankings
    left out because a text was found nowhere (reported, never dropped silently)."""
    history: dict[tuple[int, str], list[RankingEvent]] = defaultdict(list)
    for event in book.events():
        history[(event.conversation_id, event.ranker)].append(event)
    records: list[RankedRecord] = []
    missing: list[MissingTexts] = []
    for cid in range(book.conversation_count()):
        conversation, rankings = book.conversation(cid), book.rankings(cid)
        if not rankings:
            continue
        hashes = [conversation.prompt_hash, *(r.content_hash for r in conversation.responses)]
        found = {h: texts.text(h) for h in hashes}
        absent = tuple(h for h, t in found.items() if t is None)
        if absent:
            missing.append(MissingTexts(cid, len(rankings), absent))
            continue
        prompt, answers = str(found[hashes[0]]), [str(found[h]) for h in hashes[1:]]
        rankers = tuple(r.ranker for r in rankings)
        for r in rankings:
            events = tuple(history[(cid, r.ranker)])
            records.append(RankedRecord(
                conversation_id=cid, domain=conversation.domain, prompt=prompt, ranker=r.ranker, rankers=rankers,
                ranked=tuple(conversation.responses[i] for i in r.ranks), texts=tuple(answers[i] for i in r.ranks),
                ranked_at=r.ranked_at, chain_id=book.chain_id, contract=book.address,
                tx_hash=events[-1].tx_hash if events else "", history=events,
            ))  # fmt: skip
    return records, missing


def kendall_tau(first: Sequence[str], second: Sequence[str]) -> float:
    """Kendall's tau between two orderings of the same items: 1 identical, -1 reversed.

    >>> kendall_tau(["a", "b", "c"], ["a", "c", "b"])
    0.3333333333333333
    """
    if sorted(first) != sorted(second) or len(first) < 2:
        raise InputError("Kendall's tau needs two orderings of the same two or more items")
    where = {item: k for k, item in enumerate(second)}
    pairs = list(itertools.combinations(first, 2))
    concordant = sum(1 for a, b in pairs if where[a] < where[b])
    return (2 * concordant - len(pairs)) / len(pairs)


def _order(record: RankedRecord) -> list[str]:
    return [e.content_hash for e in record.ranked]


def conversation_agreement(records: Iterable[RankedRecord]) -> dict[int, float]:
    """Per conversation ranked by two or more accounts, the mean Kendall's tau over pairs of rankers."""
    by_conversation: dict[int, list[RankedRecord]] = defaultdict(list)
    for r in records:
        by_conversation[r.conversation_id].append(r)
    return {
        cid: statistics.fmean(kendall_tau(_order(a), _order(b)) for a, b in itertools.combinations(group, 2))
        for cid, group in by_conversation.items()
        if len(group) >= 2
    }


@dataclass(frozen=True)
class AgreementStats:
    conversations: int
    rankings: int
    multiply_ranked: int  # conversations with two or more rankers
    mean_tau: float | None
    min_tau: float | None
    max_tau: float | None

    def describe(self) -> str:
        head = f"{self.rankings} rankings of {self.conversations} conversations"
        if self.mean_tau is None:
            return f"{head}; no conversation has two rankers, so there is no agreement to measure"
        return (f"{head}; {self.multiply_ranked} ranked by two or more accounts: Kendall's tau between rankers "
                f"mean {self.mean_tau:.3f}, min {self.min_tau:.3f}, max {self.max_tau:.3f}")  # fmt: skip


def agreement_stats(records: Sequence[RankedRecord]) -> AgreementStats:
    taus = list(conversation_agreement(records).values())
    return AgreementStats(
        conversations=len({r.conversation_id for r in records}), rankings=len(records), multiply_ranked=len(taus),
        mean_tau=statistics.fmean(taus) if taus else None, min_tau=min(taus, default=None),
        max_tau=max(taus, default=None),
    )  # fmt: skip


@dataclass(frozen=True)
class RecordFilter:
    """Which rankings to export. ``licences``: allowed licences (case-insensitive; None: any);
    responses under other licences are dropped from a ranking, which keeps its order among the
    rest. ``min_agreement``: drop conversations whose rankers agree less (or that have one ranker)."""

    licences: frozenset[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_agreement: float | None = None

    def __post_init__(self) -> None:
        if self.min_agreement is not None and not -1.0 <= self.min_agreement <= 1.0:
            raise InputError(f"minimum agreement is a Kendall's tau in [-1, 1], got {self.min_agreement}")
        if self.since and self.until and self.since > self.until:
            raise InputError(f"the date range is empty: {self.since:%Y-%m-%d} is after {self.until:%Y-%m-%d}")


def parse_day(value: str | None, end: bool = False) -> datetime | None:
    """An ISO date or time (UTC unless it says otherwise); with ``end``, a bare date means its last second."""
    if value is None or value == "":
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"date {value!r} is not an ISO date such as 2026-11-23 or 2026-11-23T18:00") from None
    if end and len(value) == 10:  # a bare date includes that whole day
        day = day.replace(hour=23, minute=59, second=59)
    return day if day.tzinfo else day.replace(tzinfo=UTC)


def licence_set(licences: Sequence[str] | None, permissive: bool) -> frozenset[str] | None:
    """The licences to keep: those named, plus the permissive ones if asked; None keeps any."""
    if not licences and not permissive:
        return None
    return frozenset(x.lower() for x in licences or ()) | (PERMISSIVE if permissive else frozenset())


def _licensed(record: RankedRecord, allowed: frozenset[str]) -> RankedRecord | None:
    keep = [k for k, e in enumerate(record.ranked) if e.licence.lower() in allowed]
    if len(keep) < 2:
        return None
    return replace(record, ranked=tuple(record.ranked[k] for k in keep), texts=tuple(record.texts[k] for k in keep))


def _in_range(record: RankedRecord, f: RecordFilter) -> bool:
    when = datetime.fromtimestamp(record.ranked_at, UTC)
    return (f.since is None or when >= f.since) and (f.until is None or when <= f.until)


def apply_filter(records: Sequence[RankedRecord], f: RecordFilter) -> list[RankedRecord]:
    """The records that pass ``f``; agreement is measured on the full rankings, before licences."""
    kept = [r for r in records if _in_range(r, f)]
    if f.min_agreement is not None:
        agreement = conversation_agreement(records)
        kept = [r for r in kept if agreement.get(r.conversation_id, -2.0) >= f.min_agreement]
    if f.licences is not None:
        allowed = frozenset(x.lower() for x in f.licences)
        kept = [r2 for r in kept if (r2 := _licensed(r, allowed)) is not None]
    return kept
