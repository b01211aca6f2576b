"""Agreement between rankers and the export filters, on plain records."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmnet.errors import InputError
from llmnet.rlhf.book import RankingEvent, ResponseEntry
from llmnet.rlhf.export import dpo_pairs, export, tsv_header
from llmnet.rlhf.records import RankedRecord, RecordFilter, agreement_stats, apply_filter, kendall_tau

E = {k: ResponseEntry("0x" + k * 64, "0x" + k * 40, f"m{k}", "1", lic) for k, lic in (("a", "MIT"), ("b", "MIT"),
                                                                                      ("c", "Llama-3"))}  # fmt: skip
DAY = int(datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp())


def record(cid: int, order: str, ranker: str = "0xR", at: int = DAY) -> RankedRecord:
    return RankedRecord(cid, "general", "p", ranker, (ranker,), tuple(E[k] for k in order),
                        tuple(f"text {k}" for k in order), at, 31337, "0xC", "0x" + "77" * 32)  # fmt: skip


def test_kendall_tau() -> None:
    assert kendall_tau("abc", "abc") == 1.0
    assert kendall_tau("abc", "cba") == -1.0
    assert kendall_tau("abcd", "bacd") == pytest.approx(4 / 6)
    with pytest.raises(InputError, match="same two or more items"):
        kendall_tau("ab", "ac")


def test_agreement_filter_and_statistics() -> None:
    records = [record(0, "abc", "0x1"), record(0, "abc", "0x2"), record(1, "abc", "0x1"), record(1, "cba", "0x2"),
               record(2, "bca")]  # fmt: skip
    stats = agreement_stats(records)
    assert (stats.conversations, stats.rankings, stats.multiply_ranked) == (3, 5, 2)
    assert (stats.mean_tau, stats.min_tau, stats.max_tau) == (0.0, -1.0, 1.0)
    assert "Kendall's tau between rankers mean 0.000" in stats.describe()
    assert [r.conversation_id for r in apply_filter(records, RecordFilter(min_agreement=0.9))] == [0, 0]
    assert len(apply_filter(records, RecordFilter())) == 5


def test_date_and_licence_filters() -> None:
    old, new = record(0, "abc", at=DAY - 10 * 86400), record(1, "cab")
    since = RecordFilter(since=datetime(2026, 11, 19, tzinfo=UTC))
    assert apply_filter([old, new], since) == [new]
    (mit,) = apply_filter([new], RecordFilter(licences=frozenset({"mit"})))
    assert [e.model_id for e in mit.ranked] == ["ma", "mb"] and mit.texts == ("text a", "text b")
    assert apply_filter([record(2, "cab")], RecordFilter(licences=frozenset({"llama-3"}))) == []
    with pytest.raises(InputError, match="date range is empty"):
        RecordFilter(since=datetime(2026, 2, 1, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InputError, match=r"Kendall's tau in \[-1, 1\]"):
        RecordFilter(min_agreement=2.0)


def test_pairs_header_and_format_errors(tmp_path: Path) -> None:
    pairs = dpo_pairs(record(0, "bca"))
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [("text b", "text c"), ("text b", "text a"),
                                                             ("text c", "text a")]  # fmt: skip
    assert tsv_header(3)[:5] == ["Conversation ID", "Prompt", "First Ranked Response", "Second Ranked Response",
                                 "Third Ranked Response"]  # fmt: skip
    with pytest.raises(InputError, match="unknown export format 'csv'"):
        export([], "csv", tmp_path / "x")
    with pytest.raises(InputError, match="cannot be empty"):
        export([], "hf", tmp_path / "hf")


def test_pairs_carry_the_block_of_the_latest_ranking() -> None:
    events = (RankingEvent(0, "0xR", (1, 2, 0), False, "0x01", 40), RankingEvent(0, "0xR", (1, 2, 0), True, "0x02", 52))
    revised = replace(record(0, "bca"), history=events)
    assert {p["block_number"] for p in dpo_pairs(revised)} == {52}
    assert {p["block_number"] for p in dpo_pairs(record(0, "bca"))} == {0}  # history unknown
