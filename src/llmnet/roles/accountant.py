"""The coordinator's books: every answered task reaches the chain, in batches.

A task is written to SQLite (``synchronous=FULL``) before its answer is
returned. A background loop then

1. opens the answered tasks on chain, many per transaction, paid from each
   requester's deposit under the allowance it gave this coordinator
   (``open_tasks`` through the outbox, so a crash loses nothing);
2. hands each opened task's outcome to the settler: its record (the receipt,
   the signed responses and ratings) and the coordinator's signed claim that
   binds it to its on-chain task id (see :mod:`llmnet.roles.outcome`); an
   outcome the settler refuses is kept with the reason;
3. asks the settler how far settlement got, for ``/tasks/{id}``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import httpx
from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

from llmnet.chain.outbox import Outbox
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.roles.admission import settler_endpoint
from llmnet.roles.common import signing_domain
from llmnet.roles.outcome import Outcome, TaskRecord
from llmnet.roles.protocol import SettlementState, SettleReply
from llmnet.roles.taskbook import TaskBook
from llmnet.store import transaction

OPEN_DEADLINE_S = 3600
SETTLER_TTL_S = 10.0  # how long the settler found on chain is used before the chain is asked again

_OPEN_COLUMNS = "task_key, requester, domain, fee, n_respondents, prompt_hash"


class Accountant:
    """Works through a TaskBook: opens tasks on chain, hands outcomes to the settler, follows up."""

    def __init__(
        self, book: TaskBook, ledger: Web3Ledger, account: LocalAccount, settler_url: str | None, batch: int = 200
    ) -> None:
        self.book, self.ledger, self.account, self.settler_url, self.batch = book, ledger, account, settler_url, batch
        self.db, self.lock = book.db, book.lock
        self.signing = signing_domain(ledger)
        self.outbox = Outbox(book.path.with_name("coordinator-outbox.sqlite"), ledger, [account])
        self.http = httpx.Client(timeout=30)
        self._stop = threading.Event()
        self._found: tuple[float, str | None] | None = None  # when the chain was last asked for the settler

    @property
    def last_error(self) -> str | None:
        return self.book.last_error

    @last_error.setter
    def last_error(self, message: str | None) -> None:
        self.book.last_error = message

    def settler(self) -> str | None:
        """Where outcomes go: the settler URL configured, else the public URL of a settler the escrow
        lists that is a validator in good standing, read again every SETTLER_TTL_S."""
        if self.settler_url is not None:
            return self.settler_url
        now = time.monotonic()
        if self._found is None or now - self._found[0] > SETTLER_TTL_S:
            self._found = (now, settler_endpoint(self.ledger))
        return self._found[1]

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
                f"SELECT {_OPEN_COLUMNS}, open_record FROM tasks WHERE state = 'opening' ORDER BY created"
            ).fetchall()
        by_record: dict[int, list[sqlite3.Row]] = defaultdict(list)
        for row in rows:
            by_record[row["open_record"]].append(row)
        for record_id, group in by_record.items():
            self._finish_open(record_id, group[0]["requester"], group)

    def _open(self) -> int:
        with self.lock:
            rows = self.db.execute(
                f"SELECT {_OPEN_COLUMNS} FROM tasks WHERE state = 'answered' ORDER BY created LIMIT ?", (self.batch,)
            ).fetchall()
        groups: dict[tuple[str, str], list[sqlite3.Row]] = defaultdict(list)
        for row in rows:
            groups[(row["requester"], row["domain"])].append(row)
        moved = 0
        for (requester, domain), group in groups.items():
            for start in range(0, len(group), 256):
                moved += self._open_group(requester, domain, group[start : start + 256])
        return moved

    def _open_group(self, requester: str, domain: str, group: list[sqlite3.Row]) -> int:
        n = max(r["n_respondents"] for r in group)
        hashes, fees = [r["prompt_hash"] for r in group], [r["fee"] for r in group]
        call = self.ledger.open_tasks_call(requester, domain, hashes, fees, n, self.ledger.now() + OPEN_DEADLINE_S)
        record_id = self.outbox.submit(call, self.account, key=f"open-{group[0]['task_key']}")
        with self.lock, transaction(self.db):
            self.db.executemany(
                "UPDATE tasks SET state = 'opening', open_record = ? WHERE task_key = ?",
                [(record_id, r["task_key"]) for r in group],
            )
        return self._finish_open(record_id, requester, group)

    def _finish_open(self, record_id: int, requester: str, group: list[sqlite3.Row]) -> int:
        record = self.outbox.wait(record_id)
        receipt = self.ledger.tx.receipt(record.tx_hash) if record.tx_hash else None
        ids = self.ledger.opened_task_ids(receipt.logs) if receipt else []
        if len(ids) != len(group):
            self.last_error = f"opening {len(group)} tasks for {requester} failed: {record.error}"
            return 0
        with self.lock, transaction(self.db):
            self.db.executemany(
                "UPDATE tasks SET state = 'opened', chain_task_id = ? WHERE task_key = ?",
                [(task_id, r["task_key"]) for task_id, r in zip(ids, group, strict=True)],
            )
        return len(group)

    def outcome(self, chain_task_id: int, text: str) -> Outcome:
        """A recorded task as the settler takes it, with the claim that binds it to its on-chain id
        (signed here, in the accountant's process, so the signature costs the answer no time)."""
        record = TaskRecord.model_validate_json(text)
        claim = record.claim(chain_task_id, self.account, self.signing)
        return Outcome(claim=claim.to_dict(), record=record)

    def _hand_over(self) -> int:
        with self.lock:
            rows = self.db.execute(
                "SELECT task_key, chain_task_id, outcome FROM tasks WHERE state = 'opened' LIMIT ?", (self.batch,)
            ).fetchall()
        settler = self.settler() if rows else None
        if settler is None:
            return 0
        outcomes, unreadable = [], {}
        for r in rows:
            try:
                outcomes.append(self.outcome(r["chain_task_id"], r["outcome"]))
            except ValidationError:
                unreadable[r["chain_task_id"]] = "recorded by an earlier llmnet in a format this one cannot send"
        body = {"outcomes": [o.model_dump(mode="json") for o in outcomes]}
        resp = self.http.post(f"{settler}/v1/settle", json=body)
        if resp.status_code in (400, 403):  # every outcome refused: the settler says why
            refused = {o.task_id: _error_message(resp) for o in outcomes}
        else:
            resp.raise_for_status()
            refused = {r.task_id: r.reason for r in SettleReply.model_validate_json(resp.content).refused}
        refused |= unreadable
        keys = {r["chain_task_id"]: r["task_key"] for r in rows}
        with self.lock, transaction(self.db):
            self.db.executemany("UPDATE tasks SET state = 'refused', reason = ? WHERE task_key = ?",
                                [(why, keys[t]) for t, why in refused.items() if t in keys])  # fmt: skip
            self.db.executemany("UPDATE tasks SET state = 'sent' WHERE task_key = ? AND state = 'opened'",
                                [(r["task_key"],) for r in rows])  # fmt: skip
        return len(rows)

    def _follow_up(self) -> int:
        with self.lock:
            rows = self.db.execute(
                "SELECT task_key, chain_task_id FROM tasks WHERE state = 'sent' ORDER BY created LIMIT ?", (self.batch,)
            ).fetchall()
        if not rows:
            return 0
        settler = self.settler()
        if settler is None:
            return 0
        resp = self.http.post(f"{settler}/v1/settlements/query", json=[r["chain_task_id"] for r in rows])
        resp.raise_for_status()
        done = {s.task_id: s for s in map(SettlementState.model_validate, resp.json()) if s.state in _FINAL}
        updates = [(s.state, s.model_dump_json(), s.reason, r["task_key"])
                   for r in rows if (s := done.get(r["chain_task_id"])) is not None]  # fmt: skip
        with self.lock, transaction(self.db):
            self.db.executemany("UPDATE tasks SET state = ?, settlement = ?, reason = ? WHERE task_key = ?", updates)
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


_FINAL = ("settled", "set_aside")  # the settler's final states, which the books take over


def _error_message(resp: httpx.Response) -> str:
    try:
        return str(resp.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"the settler answered {resp.status_code}: {resp.text[:300]}"


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
