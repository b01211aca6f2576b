"""The coordinator's task book: group commit under concurrency, and failures reported to every caller."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from llmnet.errors import NotFound, StoreError
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
    threads = [threading.Thread(target=acc.record, args=(i + 1, 1, answered(i + 1))) for i in range(64)]
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


def _answered(book: TaskBook, key: int, requester: str) -> None:
    book.record(key, 1, answered(key, requester))


def test_a_task_is_shown_to_its_own_requester_only(tmp_path: Path) -> None:
    book, alice, bob = books(tmp_path), "0x" + "a1" * 20, "0x" + "b2" * 20
    _answered(book, 0x11, alice)

    assert book.task_of("0x11", alice.upper().replace("0X", "0x"))["receipt"]["requester"] == alice
    with pytest.raises(NotFound) as theirs:
        book.task_of("0x11", bob)
    with pytest.raises(NotFound) as missing:
        book.task_of("0x12", bob)
    assert str(theirs.value) == "no task 0x11 at this coordinator"  # the same as for a task that does not exist
    assert str(missing.value) == "no task 0x12 at this coordinator"


def test_recent_tasks_are_listed_per_requester(tmp_path: Path) -> None:
    book, alice, bob = books(tmp_path), "0x" + "a1" * 20, "0x" + "b2" * 20
    for key, who in ((1, alice), (2, bob), (3, alice)):
        _answered(book, key, who)
    assert [t["task_key"] for t in book.recent(alice)] == ["0x3", "0x1"]
    assert [t["task_key"] for t in book.recent(bob)] == ["0x2"]
    assert book.recent("0x" + "c3" * 20) == []
