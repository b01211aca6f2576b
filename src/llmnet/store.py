"""Off-chain content store: bytes in SQLite, addressed by their keccak256 hash.

The chain records only hashes; prompts, responses and receipts live here. A hash
is always computed by the store, never taken from a caller, and every read is
re-hashed so a corrupt row is reported instead of served.

    >>> with ContentStore(tmp_path / "content.db") as store:  # doctest: +SKIP
    ...     h = store.put_json({"prompt": "hi"}, kind="prompt")
    ...     store.get_json(h)
    {'prompt': 'hi'}
"""

from __future__ import annotations

import builtins
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from llmnet.errors import ContentNotFound, InputError, StoreError
from llmnet.hashing import keccak256
from llmnet.types import check_hash

__all__ = ["ContentStore", "canonical_json", "content_hash", "transaction", "validate_hash"]


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction (one commit, one fsync) on an autocommit connection; rolled back on error.

    Without it, each statement of an ``executemany`` on such a connection commits on its own."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


_KIND_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS content (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    hash       TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    created_at REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS content_kind ON content (kind, seq);
"""


def content_hash(data: bytes) -> str:
    """keccak256 of ``data`` as 0x-prefixed lowercase hex (the form stored on chain)."""
    return "0x" + keccak256(data).hex()


def canonical_json(obj: Any) -> bytes:
    """One byte string per JSON value, so equal objects hash equally.

    >>> canonical_json({"b": 1, "a": [1, 2]})
    b'{"a":[1,2],"b":1}'
    """
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"cannot encode value as canonical JSON: {exc}") from exc
    return text.encode()


def validate_hash(value: object) -> str:
    """Return ``value`` as a lowercase content hash, or raise :class:`InputError`."""
    return check_hash(value, "content hash")  # type: ignore[arg-type]


def _validate_kind(kind: object) -> str:
    if not isinstance(kind, str) or not _KIND_RE.fullmatch(kind):
        raise InputError(
            f"invalid content kind {kind!r}: expected 1-64 characters of a-z, 0-9, '_', '.', '-',"
            " starting with a letter or digit"
        )
    return kind


def _as_bytes(data: object) -> bytes:
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise InputError(f"content must be bytes or str, not {type(data).__name__}")


class ContentStore:
    """Content-addressed blobs in one SQLite file, safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = self._open(self.path)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open content store at {path}: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot initialise content store at {path}: {exc}") from exc
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> ContentStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> builtins.list[tuple[Any, ...]]:
        with self._lock:
            if self._conn is None:
                raise StoreError(f"content store {self.path} is closed; open a new ContentStore")
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"content store {self.path}: {exc}") from exc

    def put(self, data: bytes | str, kind: str = "blob") -> str:
        """Store ``data`` (str is UTF-8 encoded) and return its hash; storing twice is a no-op."""
        raw = _as_bytes(data)
        kind = _validate_kind(kind)
        digest = content_hash(raw)
        self._execute(
            "INSERT OR IGNORE INTO content (hash, kind, data, created_at) VALUES (?, ?, ?, ?)",
            (digest, kind, raw, time.time()),
        )
        return digest

    def put_json(self, obj: Any, kind: str = "json") -> str:
        """Store ``obj`` as :func:`canonical_json` and return the hash of those bytes."""
        return self.put(canonical_json(obj), kind=kind)

    def get(self, hash: str) -> bytes:
        """The bytes stored under ``hash``; :class:`ContentNotFound` if there are none."""
        digest = validate_hash(hash)
        rows = self._execute("SELECT data FROM content WHERE hash = ?", (digest,))
        if not rows:
            raise ContentNotFound(digest)
        data = bytes(rows[0][0])
        actual = content_hash(data)
        if actual != digest:
            raise StoreError(
                f"content under {digest} is corrupt (its bytes hash to {actual}); "
                f"restore {self.path} from a backup or fetch the content again"
            )
        return data

    def get_text(self, hash: str) -> str:
        data = self.get(hash)
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            raise StoreError(f"content under {hash} is not UTF-8 text; read it with get()") from exc

    def get_json(self, hash: str) -> Any:
        text = self.get_text(hash)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreError(f"content under {hash} is not JSON; read it with get()") from exc

    def has(self, hash: str) -> bool:
        digest = validate_hash(hash)
        return bool(self._execute("SELECT 1 FROM content WHERE hash = ?", (digest,)))

    def kind_of(self, hash: str) -> str:
        """The kind given when ``hash`` was first stored."""
        digest = validate_hash(hash)
        rows = self._execute("SELECT kind FROM content WHERE hash = ?", (digest,))
        if not rows:
            raise ContentNotFound(digest)
        return str(rows[0][0])

    def kinds(self) -> builtins.list[str]:
        """Every kind in the store, sorted."""
        return [row[0] for row in self._execute("SELECT DISTINCT kind FROM content ORDER BY kind")]

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return int(self._execute("SELECT COUNT(*) FROM content")[0][0])
        kind = _validate_kind(kind)
        return int(self._execute("SELECT COUNT(*) FROM content WHERE kind = ?", (kind,))[0][0])

    def list(self, kind: str | None = None, limit: int = 100) -> builtins.list[str]:
        """Hashes newest first, optionally only those of one ``kind``."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InputError(f"invalid limit {limit!r}: expected a positive integer")
        if kind is None:
            rows = self._execute("SELECT hash FROM content ORDER BY seq DESC LIMIT ?", (limit,))
        else:
            kind = _validate_kind(kind)
            rows = self._execute("SELECT hash FROM content WHERE kind = ? ORDER BY seq DESC LIMIT ?", (kind, limit))
        return [row[0] for row in rows]
