"""The coordinator's durable record of answered tasks (SQLite in WAL mode).

The coordinator process records each answered task here before its answer is
returned; the accountant process (:mod:`llmnet.roles.accountant`) works through
it: opens the tasks on chain, hands them to the settler, and follows them up.
Each row keeps the task's :class:`~llmnet.roles.outcome.TaskRecord` as JSON and
the fields the accountant queries by as named columns.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from llmnet.errors import ConfigError, NotFound, StoreError
from llmnet.roles.outcome import TaskRecord
from llmnet.store import transaction

OPEN_DEADLINE_S = 3600
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_key TEXT PRIMARY KEY,
    requester TEXT NOT NULL,
    domain TEXT NOT NULL,
    fee INTEGER NOT NULL,
    n_respondents INTEGER NOT NULL,
    prompt_hash TEXT NOT NULL,
    outcome TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'answered',
    open_record INTEGER,
    chain_task_id INTEGER,
    settlement TEXT,
    reason TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_state ON tasks(state);
CREATE INDEX IF NOT EXISTS tasks_requester ON tasks(requester, created);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


class TaskBook:
    """The coordinator's durable record of answered tasks (SQLite in WAL mode).

    The coordinator process records into it; the accountant process works through it.

    ``fsync_interval_s`` chooses what "recorded" means when :meth:`record` returns:

    - ``0`` (the default): the row is fsynced to disk, so not even a power cut loses it;
    - ``> 0``: the row is in the write-ahead log, so no crash of any llmnet process can lose
      it, and a background thread fsyncs the log every ``fsync_interval_s``, so an operating
      system crash or power cut loses at most that much (PostgreSQL's
      ``synchronous_commit = off``). It saves the fsync on each answer's path (about 0.6 ms).
    """

    def __init__(self, path: Path, *, fsync_interval_s: float = 0.0) -> None:
        if not 0 <= fsync_interval_s <= 60:
            raise ConfigError(f"fsync_interval_s is {fsync_interval_s}; use 0 (fsync every record) to 60 seconds")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.fsync_interval_s = path, fsync_interval_s
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={'NORMAL' if fsync_interval_s else 'FULL'}")
        self.db.executescript(_SCHEMA)
        if "reason" not in {row[1] for row in self.db.execute("PRAGMA table_info(tasks)")}:
            self.db.execute("ALTER TABLE tasks ADD COLUMN reason TEXT")  # books kept by an earlier llmnet
        self._closed = threading.Event()
        if fsync_interval_s:
            threading.Thread(target=self._fsync_loop, name="llmnet-taskbook-fsync", daemon=True).start()
        self.lock = threading.Lock()
        self._queue_cond = threading.Condition()
        self._queue: list[tuple[int, tuple[Any, ...]]] = []
        self._seq = self._durable = 0
        self._committing = False
        self._failed: dict[int, BaseException] = {}
        self._owed_lock = threading.Lock()
        self._owed: dict[str, tuple[float, int]] = {}  # requester -> (read at, unopened fees then)
        self._recent: dict[str, list[tuple[float, int]]] = {}  # requester -> (recorded at, fee) since

    def _fsync_loop(self) -> None:
        while not self._closed.wait(self.fsync_interval_s):
            self._fsync_log()

    def _fsync_log(self) -> None:
        try:
            fd = os.open(self.path.with_name(self.path.name + "-wal"), os.O_RDONLY)
        except FileNotFoundError:  # nothing written yet, or checkpointed away
            return
        try:
            os.fsync(fd)  # flushes the file, whichever descriptor wrote it
        finally:
            os.close(fd)

    def close(self) -> None:
        self._closed.set()
        if self.fsync_interval_s:
            self._fsync_log()
        self.db.close()

    @property
    def last_error(self) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'last_error'").fetchone()
        return None if row is None else str(row[0])

    @last_error.setter
    def last_error(self, message: str | None) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_error', ?)", (message,))

    # ------------------------------------------------------------- intake
    def record(self, task_key: int, n_respondents: int, record: TaskRecord) -> None:
        """Durably note an answered task (before its answer is returned).

        Group commit: concurrent callers queue their rows; whoever finds no commit running
        writes everything queued in one transaction (one fsync) and wakes the others, each of
        which returns once its own row is on disk.
        """
        view = record.view()
        requester = view.requester
        row = (hex(task_key), requester, view.domain, view.fee_wei, n_respondents, record.receipt["prompt_hash"],
               record.model_dump_json(), time.time())  # fmt: skip
        fee = view.fee_wei
        with self._queue_cond:
            self._seq += 1
            mine = self._seq
            self._queue.append((mine, row))
            while self._durable < mine and mine not in self._failed:
                if self._committing:
                    self._queue_cond.wait()
                    continue
                self._committing = True
                batch, self._queue = self._queue, []
                self._queue_cond.release()
                error: BaseException | None = None
                try:
                    self._commit([r for _, r in batch])
                except BaseException as exc:  # every caller in this batch must hear it
                    error = exc
                finally:
                    self._queue_cond.acquire()
                    self._committing = False
                    if error is None:
                        self._durable = max(self._durable, batch[-1][0])
                    else:
                        self._failed.update(dict.fromkeys((seq for seq, _ in batch), error))
                    self._queue_cond.notify_all()
            failure = self._failed.pop(mine, None)
        if failure is not None:
            raise StoreError(f"task {hex(task_key)} could not be recorded: {failure}") from failure
        with self._owed_lock:
            # stamped after the commit: a read that started earlier may have missed the row
            self._recent.setdefault(requester, []).append((time.monotonic(), fee))

    def _commit(self, rows: list[tuple[Any, ...]]) -> None:
        with self.lock, transaction(self.db):
            self.db.executemany(
                "INSERT INTO tasks (task_key, requester, domain, fee, n_respondents, prompt_hash, outcome,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def task(self, task_key: str) -> dict[str, Any]:
        with self.lock:
            row = self.db.execute(
                "SELECT state, chain_task_id, settlement, reason, outcome FROM tasks WHERE task_key = ?", (task_key,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no task {task_key} at this coordinator")
        record = TaskRecord.model_validate_json(row["outcome"])
        return {
            "state": row["state"],
            "chain_task_id": row["chain_task_id"],
            "settlement": json.loads(row["settlement"]) if row["settlement"] else None,
            "reason": row["reason"],  # why the settler refused or set the task aside
            "receipt": record.receipt,
            "receipt_hash": record.receipt_hash,
        }

    def task_of(self, task_key: str, requester: str) -> dict[str, Any]:
        """:meth:`task`, for its own requester only: to anyone else it does not exist."""
        task = self.task(task_key)
        if str(task["receipt"]["requester"]).lower() != requester.lower():
            raise NotFound(f"no task {task_key} at this coordinator")
        return task

    def unopened_fees(self, requester: str, max_age_s: float = 0.25) -> int:
        """Fees of this requester's tasks answered but not yet opened (not yet taken from escrow).

        Read from the book at most every ``max_age_s``; tasks this process recorded since the
        read started are added on top, so the figure never falls behind what was answered
        (a task recorded during the read may count twice, which only errs on the safe side)."""
        now = time.monotonic()
        with self._owed_lock:
            hit = self._owed.get(requester)
            if hit is not None and now - hit[0] <= max_age_s:
                return hit[1] + sum(fee for at, fee in self._recent.get(requester, ()) if at >= hit[0])
        with self.lock:
            row = self.db.execute(
                "SELECT COALESCE(SUM(fee), 0) FROM tasks WHERE requester = ? AND state IN ('answered', 'opening')",
                (requester,),
            ).fetchone()
        with self._owed_lock:
            self._owed[requester] = (now, int(row[0]))
            recent = self._recent[requester] = [(at, fee) for at, fee in self._recent.get(requester, ()) if at >= now]
            return int(row[0]) + sum(fee for _, fee in recent)

    def counts(self) -> dict[str, int]:
        with self.lock:
            rows = self.db.execute("SELECT state, COUNT(*) FROM tasks GROUP BY state").fetchall()
        return {state: n for state, n in rows}

    def recent(self, requester: str, limit: int = 20) -> list[dict[str, Any]]:
        """``requester``'s newest tasks, newest first: key, requester, domain, fee, state, chain id, settlement,
        and why the settler refused or set the task aside."""
        with self.lock:
            rows = self.db.execute(
                "SELECT task_key, requester, domain, fee, state, chain_task_id, settlement, reason, created "
                "FROM tasks WHERE requester = ? ORDER BY created DESC LIMIT ?",
                (requester, limit),
            ).fetchall()
        return [dict(row) | {"settlement": json.loads(row["settlement"]) if row["settlement"] else None}
                for row in rows]  # fmt: skip

    def batch_receipts(self, batch_id: int) -> list[tuple[int, str]]:
        """(chain task id, receipt hash) of this book's tasks settled in ``batch_id``, in task order."""
        with self.lock:
            rows = self.db.execute(
                "SELECT chain_task_id, json_extract(outcome, '$.receipt_hash') FROM tasks "
                "WHERE json_extract(settlement, '$.batch_id') = ? ORDER BY chain_task_id",
                (batch_id,),
            ).fetchall()
        return [(int(t), str(h)) for t, h in rows]
