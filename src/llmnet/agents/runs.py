"""Team runs kept durably in SQLite (write-ahead log, ``synchronous=FULL``): each run's settings,
every message as it is published and every call's cost, so a run killed at any point resumes from
its history without repeating a finished action.

    store = RunStore(path)
    store.create(run_id, config)      # once
    store.add_messages(run_id, [message])   # after every action, before anyone acts on its messages
"""

from __future__ import annotations

import fcntl
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

from llmnet.agents.costs import CallCost
from llmnet.agents.message import AgentMessage
from llmnet.errors import InputError, NotFound, StoreError
from llmnet.store import transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, team TEXT NOT NULL, config TEXT NOT NULL, status TEXT NOT NULL,
    rounds_done INTEGER NOT NULL DEFAULT 0, error TEXT, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS calls (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (run_id, seq));
"""


class RunRecord(BaseModel):
    run_id: str
    team: str
    config: str  # the team's settings as JSON
    status: str  # running | finished | stopped | failed
    rounds_done: int
    error: str | None
    created: float
    updated: float


class RunStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # every commit is fsynced before it returns
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the runs database {path}: {exc}") from exc
        self.path = path

    def create(self, run_id: str, team: str, config: str) -> None:
        now = time.time()
        with transaction(self.db):
            self.db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, 'running', 0, NULL, ?, ?)", (run_id, team, config, now, now)
            )

    def run(self, run_id: str) -> RunRecord:
        row = self.db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            known = [r[0] for r in self.db.execute("SELECT run_id FROM runs ORDER BY created DESC LIMIT 5")]
            hint = f"recent runs: {', '.join(known)}" if known else "there are no runs yet"
            raise NotFound(f"no team run {run_id!r} in {self.path}; {hint} (`llmnet team list`)")
        return RunRecord(**dict(zip(RunRecord.model_fields, row, strict=True)))

    def runs(self, limit: int = 20) -> list[RunRecord]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [RunRecord(**dict(zip(RunRecord.model_fields, r, strict=True))) for r in rows]

    @contextmanager
    def claim(self, run_id: str) -> Iterator[None]:
        """Hold a run for this process: another process that tries to run it meanwhile is refused.
        The lock is the kernel's, so it goes with the process however that ends, SIGKILL included."""
        path = self.path.parent / "locks" / f"{run_id}.lock"
        path.parent.mkdir(exist_ok=True)
        with path.open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise InputError(f"run {run_id} is being run by another process; wait for it to end") from None
            yield

    def set_status(self, run_id: str, status: str, error: str | None = None, config: str | None = None) -> None:
        with transaction(self.db):
            self.db.execute(
                "UPDATE runs SET status = ?, error = ?, config = COALESCE(?, config), updated = ? WHERE run_id = ?",
                (status, error, config, time.time(), run_id),
            )

    def round_done(self, run_id: str, rounds: int) -> None:
        with transaction(self.db):
            self.db.execute(
                "UPDATE runs SET rounds_done = ?, updated = ? WHERE run_id = ?", (rounds, time.time(), run_id)
            )

    def add_messages(self, run_id: str, messages: list[AgentMessage]) -> None:
        """All of one action's messages in one transaction: a crash keeps all of them or none."""
        with transaction(self.db):
            for message in messages:
                self._insert("messages", run_id, message.model_dump_json())

    def add_call(self, run_id: str, cost: CallCost) -> None:
        self._append("calls", run_id, cost.model_dump_json())

    def messages(self, run_id: str) -> list[AgentMessage]:
        return [AgentMessage.model_validate_json(b) for b in self._bodies("messages", run_id)]

    def calls(self, run_id: str) -> list[CallCost]:
        return [CallCost.model_validate_json(b) for b in self._bodies("calls", run_id)]

    def _append(self, table: str, run_id: str, body: str) -> None:
        with transaction(self.db):
            self._insert(table, run_id, body)

    def _insert(self, table: str, run_id: str, body: str) -> None:
        self.db.execute(
            f"INSERT INTO {table} SELECT ?, COALESCE(MAX(seq), 0) + 1, ? FROM {table} WHERE run_id = ?",
            (run_id, body, run_id),
        )

    def _bodies(self, table: str, run_id: str) -> list[str]:
        rows = self.db.execute(f"SELECT body FROM {table} WHERE run_id = ? ORDER BY seq", (run_id,))
        return [r[0] for r in rows]

    def close(self) -> None:
        self.db.close()
