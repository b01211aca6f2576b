"""The coordinator's task book: group commit under concurrency, and failures reported to every caller."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from llmnet.errors import StoreError
from llmnet.roles.outcome import TaskRecord
from llmnet.roles.taskbook import TaskBook


def books(tmp_path: Path) -> TaskBook:
    return TaskBook(tmp_path / "tasks.sqlite")


def answered(key: int, requester: str = "0x" + "11" * 20, fee: int = 10) -> TaskRecord:
    receipt = {"task_key": hex(key), "chain_id": 1, "domain": "law", "requester": requester, "fee_wei": fee,
               "prompt_hash": "0x00", "respondents": []}  # fmt: skip
    return TaskRecord.of(receipt, [], [])


def test_concurrent_records_are_all_durable_and_batched(tmp_path: Path) -> None:
    acc = books(tmp_path)
    commits: list[int] = []
    real_commit = acc._commit

    def counting(rows: list[tuple[object, ...]]) -> None:
        commits.append(len(rows))
        real_commit(rows)

    acc._commit = counting  # type: ignore[method-assign]
    threads = [
        threading.Thread(
            target=acc.record, args=(i + 1, 1, answered(i + 1))
        )
        for i in range(64)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db = sqlite3.connect(tmp_path / "tasks.sqlite")
    assert db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 64
    assert sum(commits) == 64
    assert len(commits) <= 64  # concurrent callers usually share commits; never more commits than rows


def test_a_failed_commit_raises_for_every_caller_in_it(tmp_path: Path) -> None:
    acc = books(tmp_path)
    acc.record(1, 1, answered(1))
    with pytest.raises(StoreError, match="could not be recorded"):
        acc.record(1, 1, answered(1))  # duplicate task key: the insert fails
    acc.record(2, 1, answered(2))  # the books keep working
    assert acc.counts() == {"answered": 2}
