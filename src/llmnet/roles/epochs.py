"""Commit-reveal of ratings, epoch by epoch (see contracts/ValidatorBook.vy).

A validator stamps each rating it signs with the current rating epoch and writes its digest
to a :class:`RatingLog` before the rating leaves. During the next epoch the
:class:`CommitRevealWorker` commits to the Merkle root of the epoch's digests (with a secret
salt, stored first); during the epoch after that it reveals root, count and salt, and from
then on serves the digest list at ``GET /v1/epochs/{epoch}``. Nobody sees a validator's
ratings of an epoch before every commitment for it is final, so nobody can copy them.

The settler counts a rating only when :class:`RevealedRatings` finds its digest in the list
its validator revealed (the list must hash to the root on chain); a validator that committed
and did not reveal, or never committed, has its ratings of that epoch left out and loses trust.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import httpx
from eth_account.signers.local import LocalAccount

from llmnet.chain.commit_reveal import commitment, new_salt, ratings_root
from llmnet.chain.outbox import Outbox
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import InputError, LlmnetError, NotFound
from llmnet.store import transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ratings (seq INTEGER PRIMARY KEY AUTOINCREMENT, epoch INTEGER NOT NULL,
                                    digest TEXT NOT NULL UNIQUE);
CREATE INDEX IF NOT EXISTS ratings_epoch ON ratings(epoch, seq);
CREATE TABLE IF NOT EXISTS epochs (epoch INTEGER PRIMARY KEY, root TEXT NOT NULL, count INTEGER NOT NULL,
                                   salt TEXT NOT NULL, state TEXT NOT NULL);
"""


class EpochClock:
    """The chain's rating epoch without a chain call per rating: local time plus the chain's
    offset from it, measured again every ``refresh_s``."""

    def __init__(self, ledger: Web3Ledger, refresh_s: float = 10.0) -> None:
        self.ledger, self.refresh_s = ledger, refresh_s
        self.length = ledger.epoch_length
        self._offset, self._measured = 0.0, -refresh_s
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            if time.monotonic() - self._measured >= self.refresh_s:
                self._offset = self.ledger.pending_time() - time.time()
                self._measured = time.monotonic()
            return time.time() + self._offset

    def epoch(self) -> int:
        return int(self.now() // self.length)

    def into_epoch(self) -> float:
        """Seconds since the current epoch began."""
        return self.now() % self.length


class RatingLog:
    """A validator's durable list of the rating digests it signed, per epoch, and its commitments."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        self.lock = threading.Lock()

    def add(self, epoch: int, digests: list[str]) -> None:
        """Record digests of ``epoch`` before the ratings are handed out; refused once the epoch is
        committed (the rating would then be in no commitment: the caller signs again in the next)."""
        with self.lock, transaction(self.db):
            if self.db.execute("SELECT 1 FROM epochs WHERE epoch = ?", (epoch,)).fetchone():
                raise InputError(f"rating epoch {epoch} is already committed; rate again")
            self.db.executemany("INSERT OR IGNORE INTO ratings (epoch, digest) VALUES (?, ?)",
                                [(epoch, d) for d in digests])  # fmt: skip

    def digests(self, epoch: int) -> list[str]:
        with self.lock:
            rows = self.db.execute("SELECT digest FROM ratings WHERE epoch = ? ORDER BY seq", (epoch,)).fetchall()
        return [r[0] for r in rows]

    def epoch_row(self, epoch: int) -> tuple[str, int, str, str] | None:
        with self.lock:
            row = self.db.execute("SELECT root, count, salt, state FROM epochs WHERE epoch = ?", (epoch,)).fetchone()
        return None if row is None else (str(row[0]), int(row[1]), str(row[2]), str(row[3]))

    def seal(self, epoch: int) -> tuple[str, int, str]:
        """Fix the epoch's root and a fresh salt (durably, before any commitment is sent)."""
        with self.lock, transaction(self.db):
            row = self.db.execute("SELECT root, count, salt FROM epochs WHERE epoch = ?", (epoch,)).fetchone()
            if row is not None:
                return str(row[0]), int(row[1]), str(row[2])
            rows = self.db.execute("SELECT digest FROM ratings WHERE epoch = ? ORDER BY seq", (epoch,)).fetchall()
            digests = [r[0] for r in rows]
            sealed = (ratings_root(digests), len(digests), new_salt())
            self.db.execute("INSERT INTO epochs (epoch, root, count, salt, state) VALUES (?, ?, ?, ?, 'sealed')",
                            (epoch, *sealed))  # fmt: skip
            return sealed

    def mark(self, epoch: int, state: str) -> None:
        with self.lock:
            self.db.execute("UPDATE epochs SET state = ? WHERE epoch = ?", (state, epoch))

    def pending(self) -> list[int]:
        """Epochs with ratings that are not yet revealed (or given up)."""
        with self.lock:
            rows = self.db.execute(
                "SELECT DISTINCT r.epoch FROM ratings r LEFT JOIN epochs e ON e.epoch = r.epoch "
                "WHERE e.state IS NULL OR e.state NOT IN ('revealed', 'missed') ORDER BY r.epoch"
            ).fetchall()
        return [int(r[0]) for r in rows]

    def revealed(self, epoch: int) -> list[str]:
        row = self.epoch_row(epoch)
        if row is None or row[3] != "revealed":
            raise NotFound(f"ratings of epoch {epoch} are not revealed (yet)")
        return self.digests(epoch)


class CommitRevealWorker:
    """Commits each finished epoch during the next one and reveals it during the one after."""

    def __init__(self, log: RatingLog, clock: EpochClock, ledger: Web3Ledger, account: LocalAccount,
                 outbox: Outbox, grace_s: float = 1.0) -> None:  # fmt: skip
        self.log, self.clock, self.ledger, self.account, self.outbox = log, clock, ledger, account, outbox
        self.grace_s = min(grace_s, clock.length / 4)
        self.last_error: str | None = None

    def step(self) -> None:
        current, into = self.clock.epoch(), self.clock.into_epoch()
        if into < self.grace_s:  # a rating stamped just before the boundary may still be landing
            return
        for epoch in self.log.pending():
            row = self.log.epoch_row(epoch)
            state = row[3] if row else None
            try:
                if current == epoch + 1 and state is None:
                    root, count, salt = self.log.seal(epoch)
                    c = commitment(self.account.address, epoch, root, count, salt)
                    self.outbox.submit(self.ledger.commit_call(epoch, c), self.account, key=f"commit-{epoch}")
                    self.log.mark(epoch, "committed")
                elif current == epoch + 2 and state == "committed":
                    assert row is not None
                    root, count, salt, _ = row
                    call = self.ledger.reveal_call(epoch, root, count, salt)
                    self.outbox.submit(call, self.account, key=f"reveal-{epoch}")
                    self.log.mark(epoch, "revealed")
                elif current > epoch + (1 if state is None else 2):  # its window passed (we were down)
                    if row is None:
                        self.log.seal(epoch)
                    self.log.mark(epoch, "missed")
            except LlmnetError as exc:
                self.last_error = f"epoch {epoch}: {exc}"
        self.outbox.process()


class RevealUnavailable(LlmnetError):
    """A validator revealed a root on chain but its list cannot be fetched right now."""


class RevealedRatings:
    """The settler's check that a rating was committed and revealed by its validator."""

    def __init__(
        self,
        ledger: Web3Ledger,
        endpoint_of: Callable[[str], str],
        http: httpx.Client | None = None,
        *,
        max_lists: int = 1024,
    ) -> None:
        if max_lists < 1:
            raise InputError(f"max_lists must be at least 1, got {max_lists}")
        self.ledger, self.endpoint_of = ledger, endpoint_of
        self.http = http or httpx.Client(timeout=10)
        # Most recently used last. A settler runs for months with an epoch every few seconds: the
        # lists it holds are bounded, and one asked again after eviction is read again (and checked
        # against its root again), which costs a request, never a wrong answer.
        self._lists: OrderedDict[tuple[str, int], frozenset[str] | None] = OrderedDict()
        self.max_lists = max_lists

    def digests(self, validator: str, epoch: int) -> frozenset[str] | None:
        """The revealed digests of (validator, epoch), or None when it did not reveal (or its list
        does not hash to the root it revealed). Only asked once the reveal epoch is over."""
        key = (validator, epoch)
        if key in self._lists:
            self._lists.move_to_end(key)
            return self._lists[key]
        found = self._lists[key] = self._load(validator, epoch)
        while len(self._lists) > self.max_lists:
            self._lists.popitem(last=False)
        return found

    def _load(self, validator: str, epoch: int) -> frozenset[str] | None:
        root = self.ledger.revealed_root(validator, epoch)
        if root is None:
            return None
        try:
            resp = self.http.get(f"{self.endpoint_of(validator).rstrip('/')}/v1/epochs/{epoch}")
            resp.raise_for_status()
            listed: list[str] = resp.json()["digests"]
        except (httpx.HTTPError, KeyError, ValueError) as exc:  # not cached: asked again later
            raise RevealUnavailable(f"validator {validator} does not show its epoch {epoch}: {exc}") from None
        return frozenset(listed) if ratings_root(listed) == root else None
