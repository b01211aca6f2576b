"""A persistent outbox: every acknowledged chain write lands exactly once.

``submit`` simulates the call (a write the contract would refuse raises its
typed error and nothing is stored), then writes the intent to SQLite with
``synchronous=FULL``; its return is the acknowledgement. A drainer signs each
record with an explicit nonce, stores the signed bytes and hash *before*
sending, sends, and marks the record mined when the receipt is in.

On start, ``recover`` re-checks every record that is signed but not known to
be mined, and every recently mined one (the embedded node may come back from a
state dump older than its last blocks), against the chain:

* receipt present                      -> mined (or failed, if it reverted)
* no receipt, nonce still free          -> the very same signed bytes are sent
  again (gaps below it are filled with empty self-transfers so nothing else
  can take that nonce)
* no receipt, nonce taken by another tx -> our tx can never execute, so the
  record is signed again with a fresh nonce

A signed transaction executes at most once (its nonce), and a record is
re-signed only when its earlier transaction provably cannot execute, so each
record takes effect exactly once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from llmnet.chain.calls import ChainCall
from llmnet.chain.ledger import Account
from llmnet.chain.transactions import SignedTx
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import ChainError, ContractRevert, OutboxError

RECHECK_BLOCKS = 4096
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT UNIQUE,
    sender TEXT NOT NULL,
    call TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    gas INTEGER,
    nonce INTEGER,
    tx_hash TEXT,
    raw BLOB,
    block_number INTEGER,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_state ON records(state, id);
"""


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    key: str | None
    sender: str
    call: ChainCall
    state: str  # pending | signed | mined | failed
    nonce: int | None
    tx_hash: str | None
    block_number: int | None
    error: str | None


@dataclass
class RecoveryReport:
    confirmed: int = 0
    resent: int = 0
    resigned: int = 0
    fillers: int = 0


class Outbox:
    """>>> outbox = Outbox(path, ledger, [account]); rid = outbox.submit(call, account)   # doctest: +SKIP"""

    def __init__(self, path: Path, ledger: Web3Ledger, signers: Iterable[Account] = (), *, window: int = 32):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.ledger = ledger
        self.window = window
        self._signers: dict[str, Account] = {a.address: a for a in signers}
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- intake
    def submit(self, call: ChainCall, sender: Account, *, key: str | None = None, simulate: bool = True) -> int:
        """Persist ``call`` from ``sender``; returning is the acknowledgement.

        ``key`` makes submission idempotent: the same key returns the same record.
        """
        self._signers[sender.address] = sender
        if key is not None:
            existing = self._record_id_by_key(key)
            if existing is not None:
                return existing
        gas = None
        if simulate:
            gas = self.ledger.tx.estimate(self.ledger.function(call), sender, value=call.value, context=call.context)
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO records (key, sender, call, gas, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key, sender.address, call.to_json(), gas, now, now),
            )
        self._wake.set()
        assert cur.lastrowid is not None
        return cur.lastrowid

    def _record_id_by_key(self, key: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT id FROM records WHERE key = ?", (key,)).fetchone()
        return None if row is None else int(row[0])

    # ------------------------------------------------------------- queries
    def get(self, record_id: int) -> OutboxRecord:
        with self._lock:
            row = self._db.execute(
                "SELECT id, key, sender, call, state, nonce, tx_hash, block_number, error FROM records WHERE id = ?",
                (record_id,),
            ).fetchone()
        if row is None:
            raise OutboxError(f"no outbox record {record_id}")
        return OutboxRecord(row[0], row[1], row[2], ChainCall.from_json(row[3]), *row[4:])

    def count(self, state: str | None = None) -> int:
        with self._lock:
            if state is None:
                return int(self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM records WHERE state = ?", (state,)).fetchone()[0])

    def unfinished(self) -> int:
        with self._lock:
            q = "SELECT COUNT(*) FROM records WHERE state IN ('pending', 'signed')"
            return int(self._db.execute(q).fetchone()[0])

    def wait(self, record_id: int, timeout: float = 60.0) -> OutboxRecord:
        """Block until the record is mined or failed (drives the queue if no drainer runs)."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.get(record_id)
            if record.state in ("mined", "failed"):
                return record
            if time.monotonic() > deadline:
                raise OutboxError(f"outbox record {record_id} still {record.state} after {timeout:.0f}s")
            if self._thread is None:
                self.process()
            else:
                time.sleep(0.01)

    # ------------------------------------------------------------- draining
    def _rows(self, state: str, limit: int) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(
                "SELECT id, sender, call, gas FROM records WHERE state = ? ORDER BY id LIMIT ?",
                (state, limit),
            ).fetchall()

    def _update(self, record_id: int, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        names = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE records SET {names} WHERE id = ?", (*fields.values(), record_id))

    def _signer(self, address: str) -> Account:
        try:
            return self._signers[address]
        except KeyError:
            raise OutboxError(
                f"the outbox holds writes from {address} but has no key for it; pass that account as a signer"
            ) from None

    def _sign_pending(self) -> list[tuple[int, SignedTx, ChainCall]]:
        signed = []
        for record_id, sender, call_json, gas in self._rows("pending", self.window):
            call = ChainCall.from_json(call_json)
            fn = self.ledger.function(call)
            try:
                # state may have moved since submit; the estimate is redone only after a recovery
                tx = self.ledger.tx.prepare(fn, self._signer(sender), value=call.value, context=call.context, gas=gas)
            except ContractRevert as exc:
                self._update(record_id, state="failed", error=str(exc))
                continue
            # written before sending: a crash after this line resends these exact bytes
            self._update(record_id, state="signed", nonce=tx.nonce, tx_hash=tx.tx_hash, raw=tx.raw)
            signed.append((record_id, tx, call))
        return signed

    def process(self) -> int:
        """One pass: sign and send up to ``window`` pending records, then confirm them."""
        signed = self._sign_pending()
        for _, tx, _ in signed:
            self.ledger.tx.submit(tx)
        done = 0
        for record_id, tx, call in signed:
            self._confirm(record_id, tx, call)
            done += 1
        return done

    def _confirm(self, record_id: int, tx: SignedTx, call: ChainCall) -> None:
        try:
            mined = self.ledger.tx.wait(tx, self.ledger.function(call), call.context)
        except ContractRevert as exc:
            self._update(record_id, state="failed", error=str(exc))
            return
        self._update(record_id, state="mined", block_number=mined.block_number)

    def drain(self, timeout: float = 120.0) -> None:
        """Process until nothing is pending or signed."""
        deadline = time.monotonic() + timeout
        while self.unfinished():
            if time.monotonic() > deadline:
                raise OutboxError(f"{self.unfinished()} outbox records still unfinished after {timeout:.0f}s")
            if not self.process():
                self.recover()

    def start(self) -> None:
        """Drain continuously in a background thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="llmnet-outbox", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.process()
            except ChainError:
                worked = 0
                time.sleep(0.5)  # node down: keep the records, try again
            if not worked:
                self._wake.wait(0.05)
                self._wake.clear()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join(10)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._db.close()

    # ------------------------------------------------------------- recovery
    def recover(self) -> RecoveryReport:
        """Reconcile signed and recently mined records with the chain (see module doc)."""
        report = RecoveryReport()
        head = self.ledger.w3.eth.block_number
        with self._lock:
            rows = self._db.execute(
                "SELECT id, sender, call, nonce, tx_hash, raw FROM records "
                "WHERE state = 'signed' OR (state = 'mined' AND block_number > ?) ORDER BY sender, nonce",
                (head - RECHECK_BLOCKS,),
            ).fetchall()
        missing: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            mined = self.ledger.tx.receipt(row[4])
            if mined is None:
                missing.setdefault(row[1], []).append(row)
            else:
                self._update(row[0], state="mined", block_number=mined.block_number)
                report.confirmed += 1
        for sender, lost in missing.items():
            self._replay(sender, lost, report)
        return report

    def _replay(self, sender: str, lost: list[tuple[Any, ...]], report: RecoveryReport) -> None:
        w3, tx = self.ledger.w3, self.ledger.tx
        account = self._signer(sender)
        next_free = int(w3.eth.get_transaction_count(Web3.to_checksum_address(sender), "latest"))
        for record_id, _, _, nonce, tx_hash, raw in sorted(lost, key=lambda r: r[3]):
            if nonce < next_free:
                # that nonce was used by another transaction: ours can never run
                self._update(record_id, state="pending", nonce=None, tx_hash=None, raw=None, gas=None)
                report.resigned += 1
                continue
            while next_free < nonce:
                self._send_filler(account, next_free)
                next_free += 1
                report.fillers += 1
            tx.submit(SignedTx(sender, nonce, tx_hash, bytes(raw)))
            self._update(record_id, state="signed")
            next_free += 1
            report.resent += 1
        tx.forget_nonce(sender)

    def _send_filler(self, account: Account, nonce: int) -> None:
        from eth_account import Account as EthAccount

        w3 = self.ledger.w3
        filler = {
            "to": account.address,
            "value": 0,
            "gas": 21_000,
            **self.ledger.tx.fee_fields(),
            "nonce": nonce,
            "chainId": self.ledger.chain_id,
        }
        signed = EthAccount.sign_transaction(filler, account.key)
        w3.eth.send_raw_transaction(signed.raw_transaction)
