"""The coordinator's books: every answered task reaches the chain, in batches.

A task is written to SQLite (``synchronous=FULL``) before its answer is
returned. A background loop then

1. opens the answered tasks on chain, many per transaction, paid from each
   requester's deposit under the allowance it gave this coordinator
   (``open_tasks`` through the outbox, so a crash loses nothing);
2. hands each opened task's outcome (signed responses, signed ratings, the
   receipt and the coordinator's signature over its hash) to the settling
   validator, which settles them in batches;
3. asks the settling validator how far settlement got, for ``/tasks/{id}``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import httpx
import pydantic_core
from eth_account.signers.local import LocalAccount

from llmnet.chain.outbox import Outbox
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import ConfigError, NotFound, StoreError
from llmnet.roles.protocol import Outcome
from llmnet.signing import personal_digest, sign_digest
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
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_state ON tasks(state);
CREATE INDEX IF NOT EXISTS tasks_requester ON tasks(requester, created);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


def sign_receipt(receipt_hash: str, account: LocalAccount) -> str:
    """The coordinator's EIP-191 signature over a receipt hash (what a wallet's personal_sign makes)."""
    return sign_digest(personal_digest(receipt_hash), account)


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
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={'NORMAL' if fsync_interval_s else 'FULL'}")
        self.db.executescript(_SCHEMA)
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
    def record(self, task_key: int, requester: str, domain: str, fee: int, n: int, prompt_hash: str,
               outcome: dict[str, Any]) -> None:  # fmt: skip
        """Durably note an answered task (before its answer is returned).

        Group commit: concurrent callers queue their rows; whoever finds no commit running
        writes everything queued in one transaction (one fsync) and wakes the others, each of
        which returns once its own row is on disk.
        """
        text = pydantic_core.to_json(outcome).decode()
        row = (hex(task_key), requester, domain, fee, n, prompt_hash, text, time.time())
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
                "SELECT state, chain_task_id, settlement, outcome FROM tasks WHERE task_key = ?", (task_key,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no task {task_key} at this coordinator")
        state, chain_id, settlement, outcome = row
        return {
            "state": state,
            "chain_task_id": chain_id,
            "settlement": json.loads(settlement) if settlement else None,
            "receipt": json.loads(outcome)["receipt"],
            "receipt_hash": json.loads(outcome)["receipt_hash"],
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
        """``requester``'s newest tasks, newest first: key, requester, domain, fee, state, chain id, settlement."""
        with self.lock:
            rows = self.db.execute(
                "SELECT task_key, requester, domain, fee, state, chain_task_id, settlement, created FROM tasks "
                "WHERE requester = ? ORDER BY created DESC LIMIT ?",
                (requester, limit),
            ).fetchall()
        keys = ("task_key", "requester", "domain", "fee", "state", "chain_task_id", "settlement", "created")
        return [dict(zip(keys, (*row[:6], json.loads(row[6]) if row[6] else None, row[7]), strict=True))
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


class Accountant:
    """Works through a TaskBook: opens tasks on chain, hands outcomes to the settler, follows up."""

    def __init__(
        self, book: TaskBook, ledger: Web3Ledger, account: LocalAccount, settler_url: str | None, batch: int = 200
    ) -> None:
        self.book, self.ledger, self.account, self.settler_url, self.batch = book, ledger, account, settler_url, batch
        self.db, self.lock = book.db, book.lock
        self.outbox = Outbox(book.path.with_name("coordinator-outbox.sqlite"), ledger, [account])
        self.http = httpx.Client(timeout=30)
        self._stop = threading.Event()

    @property
    def last_error(self) -> str | None:
        return self.book.last_error

    @last_error.setter
    def last_error(self, message: str | None) -> None:
        self.book.last_error = message

    # ------------------------------------------------------------- the loop
    def step(self) -> bool:
        """One pass of open, hand over, follow up; True if a stage moved a full batch (a backlog).

        Passes run once per interval so each transaction carries many tasks; only a backlog
        (a full batch) runs the next pass at once."""
        moved = (self._open(), self._hand_over(), self._follow_up())
        return max(moved) >= self.batch

    def _resume_opening(self) -> None:
        """Tasks whose opening was in flight at a crash: finish it from the outbox record."""
        with self.lock:
            rows = self.db.execute(
                "SELECT task_key, requester, domain, fee, n_respondents, prompt_hash, open_record FROM tasks "
                "WHERE state = 'opening' ORDER BY created"
            ).fetchall()
        by_record: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for row in rows:
            by_record[row[6]].append(row[:6])
        for record_id, group in by_record.items():
            self._finish_open(record_id, group[0][1], group)

    def _open(self) -> int:
        with self.lock:
            rows = self.db.execute(
                "SELECT task_key, requester, domain, fee, n_respondents, prompt_hash FROM tasks "
                "WHERE state = 'answered' ORDER BY created LIMIT ?",
                (self.batch,),
            ).fetchall()
        groups: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
        for row in rows:
            groups[(row[1], row[2])].append(row)
        moved = 0
        for (requester, domain), group in groups.items():
            for start in range(0, len(group), 256):
                moved += self._open_group(requester, domain, group[start : start + 256])
        return moved

    def _open_group(self, requester: str, domain: str, group: list[tuple[Any, ...]]) -> int:
        n = max(r[4] for r in group)
        call = self.ledger.open_tasks_call(
            requester, domain, [r[5] for r in group], [r[3] for r in group], n, self.ledger.now() + OPEN_DEADLINE_S
        )
        record_id = self.outbox.submit(call, self.account, key=f"open-{group[0][0]}")
        with self.lock, transaction(self.db):
            self.db.executemany(
                "UPDATE tasks SET state = 'opening', open_record = ? WHERE task_key = ?",
                [(record_id, r[0]) for r in group],
            )
        return self._finish_open(record_id, requester, group)

    def _finish_open(self, record_id: int, requester: str, group: list[tuple[Any, ...]]) -> int:
        record = self.outbox.wait(record_id)
        receipt = self.ledger.tx.receipt(record.tx_hash) if record.tx_hash else None
        ids = self.ledger.opened_task_ids(receipt.logs) if receipt else []
        if len(ids) != len(group):
            self.last_error = f"opening {len(group)} tasks for {requester} failed: {record.error}"
            return 0
        with self.lock, transaction(self.db):
            self.db.executemany(
                "UPDATE tasks SET state = 'opened', chain_task_id = ? WHERE task_key = ?",
                [(task_id, r[0]) for task_id, r in zip(ids, group, strict=True)],
            )
        return len(group)

    def _hand_over(self) -> int:
        with self.lock:
            rows = self.db.execute(
                "SELECT task_key, chain_task_id, outcome FROM tasks WHERE state = 'opened' LIMIT ?", (self.batch,)
            ).fetchall()
        if not rows or self.settler_url is None:
            return 0
        outcomes = []
        for _, chain_task_id, text in rows:
            data = json.loads(text)
            # signed here, in the accountant's process, so the signature costs the answer no time
            data.setdefault("signature", sign_receipt(data["receipt_hash"], self.account))
            outcomes.append(Outcome(task_id=chain_task_id, **data).model_dump())
        resp = self.http.post(f"{self.settler_url}/v1/settle", json={"outcomes": outcomes})
        resp.raise_for_status()
        with self.lock, transaction(self.db):
            self.db.executemany("UPDATE tasks SET state = 'sent' WHERE task_key = ?", [(r[0],) for r in rows])
        return len(rows)

    def _follow_up(self) -> int:
        if self.settler_url is None:
            return 0
        with self.lock:
            rows = self.db.execute(
                "SELECT task_key, chain_task_id FROM tasks WHERE state = 'sent' ORDER BY created LIMIT ?", (self.batch,)
            ).fetchall()
        if not rows:
            return 0
        resp = self.http.post(f"{self.settler_url}/v1/settlements/query", json=[r[1] for r in rows])
        resp.raise_for_status()
        settled = {s["task_id"]: s for s in resp.json() if s["state"] == "settled"}
        updates = [(json.dumps(settled[chain_id]), key) for key, chain_id in rows if chain_id in settled]
        with self.lock, transaction(self.db):
            self.db.executemany("UPDATE tasks SET state = 'settled', settlement = ? WHERE task_key = ?", updates)
        return len(updates)

    def run(self, interval_s: float = 1.0, ready: Callable[[], object] = lambda: None) -> None:
        """Keep the books until stopped (the accountant process's main loop); ``ready`` is called
        once what a crash left unfinished has been recovered."""
        self.outbox.recover()
        self._resume_opening()
        ready()
        while not self._stop.wait(interval_s):
            try:
                while self.step():
                    pass
            except Exception as exc:  # keep the books; retry next interval
                self.last_error = f"{type(exc).__name__}: {exc}"


def run_accountant(
    db_path: str, chain_json: str, account_json: str, settler_url: str | None, ready: EventType | None = None
) -> None:
    """Entry point of the accountant process the coordinator starts: its CPU-heavy chain work
    would otherwise hold the coordinator's GIL and delay every request it serves."""
    import signal

    from llmnet.roles.common import AccountSpec, ChainSpec

    chain = ChainSpec.model_validate_json(chain_json)
    account = AccountSpec.model_validate_json(account_json).load()
    accountant = Accountant(TaskBook(Path(db_path)), chain.ledger(), account, settler_url)
    signal.signal(signal.SIGTERM, lambda *_: accountant._stop.set())
    accountant.run(ready=ready.set if ready is not None else lambda: None)
