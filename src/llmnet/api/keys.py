"""Requester API keys: ``sk-llmnet-…`` bearer tokens mapped to chain accounts.

Only a hash of each key is stored, with its id (the first 12 hex digits of that hash), the
first characters of the key for people to recognise it, and when it expires or was revoked.
Every request reads its key's row, so a key revoked in another process (``llmnet keys
revoke``) is refused by a running coordinator at once. A key comes from ``llmnet keys create``
on a local network, or from a sign-in with the account at any coordinator (:mod:`llmnet.api.auth`).
The account behind a key deposits into the escrow and approves the coordinator to open tasks
from that deposit.

    >>> book = KeyBook(Path("keys.sqlite"))  # doctest: +SKIP
    >>> key = book.create("alice", "0x…", ttl_s=30 * 86400)  # doctest: +SKIP
    >>> book.revoke(book.entries()[0].key_id)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from llmnet.errors import AuthenticationError, InputError, NotFound
from llmnet.types import checksum

PREFIX = "sk-llmnet-"
SHOWN_CHARS = len(PREFIX) + 6  # how much of a key ``list`` shows: enough to recognise it, too little to use it
ID_CHARS = 12
_COLUMNS = {"prefix": "TEXT NOT NULL DEFAULT ''", "expires": "REAL", "revoked": "REAL"}
_GET_KEY = "`llmnet keys login --coordinator URL` (or `llmnet keys create NAME` on a dev chain)"


def key_book_file(data_dir: Path) -> Path:
    """Where the keys of the network under ``data_dir`` are kept (the coordinator's state directory)."""
    return data_dir / "network" / "state" / "keys.sqlite"


def _digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class KeyInfo(BaseModel):
    """One key as ``list`` shows it: never the key itself."""

    key_id: str
    name: str
    address: str
    prefix: str  # the key's first characters, or "" for keys made before prefixes were kept
    created: float
    expires: float | None = None
    revoked: float | None = None

    def usable(self, now: float) -> bool:
        return self.revoked is None and (self.expires is None or now < self.expires)


class KeyBook:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS keys (digest TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL,"
            " created REAL NOT NULL)"
        )
        have = {row[1] for row in self._db.execute("PRAGMA table_info(keys)")}
        for column, kind in _COLUMNS.items():
            if column not in have:  # a book made by an earlier version
                self._db.execute(f"ALTER TABLE keys ADD COLUMN {column} {kind}")
        self._lock = threading.Lock()

    def create(self, name: str, address: str, *, ttl_s: float | None = None) -> str:
        """A new key for ``address``, valid for ``ttl_s`` seconds (None: until revoked);
        the key itself is shown once and never stored."""
        if not name or len(name) > 64:
            raise InputError(f"key name {name!r} must be 1-64 characters")
        if ttl_s is not None and ttl_s <= 0:
            raise InputError(f"key lifetime {ttl_s!r} s must be positive; leave it unset for a key that never expires")
        api_key, now = PREFIX + secrets.token_hex(24), self._clock()
        expires = None if ttl_s is None else now + ttl_s
        with self._lock:
            self._db.execute(
                "INSERT INTO keys (digest, name, address, created, prefix, expires) VALUES (?, ?, ?, ?, ?, ?)",
                (_digest(api_key), name, checksum(address, "requester address"), now, api_key[:SHOWN_CHARS], expires),
            )
        return api_key

    def account_for(self, authorization: str | None) -> str:
        """The requester address for an ``Authorization: Bearer …`` header, or AuthenticationError."""
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthenticationError("missing API key: send `Authorization: Bearer sk-llmnet-…`")
        info = self._info(_digest(authorization.removeprefix("Bearer ").strip()))
        if info is None:
            raise AuthenticationError(f"invalid API key: get one with {_GET_KEY}")
        if not info.usable(self._clock()):
            state = "was revoked" if info.revoked is not None else "has expired"
            raise AuthenticationError(f"API key {info.key_id} ({info.name}) {state}: get a new one with {_GET_KEY}")
        return info.address

    def _info(self, digest: str) -> KeyInfo | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_SELECT} FROM keys WHERE digest = ?", (digest,)).fetchone()
        return None if row is None else _row_info(row)

    def entries(self) -> list[KeyInfo]:
        """Every key, oldest first, revoked and expired ones included."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_SELECT} FROM keys ORDER BY created").fetchall()
        return [_row_info(row) for row in rows]

    def find(self, ref: str) -> KeyInfo:
        """The one key whose id starts with ``ref``, or whose shown prefix does."""
        ref = ref.strip()
        if len(ref) < 4:
            raise InputError(f"key reference {ref!r} is too short: give at least 4 characters of its id")
        if ref.startswith(PREFIX) and len(ref) == len(PREFIX) + 48:  # the whole key
            whole = self._info(_digest(ref))
            found = [whole] if whole else []
        else:
            found = [k for k in self.entries() if k.key_id.startswith(ref) or _prefix_match(k.prefix, ref)]
        if not found:
            raise NotFound(f"no API key with id or prefix {ref!r}; see `llmnet keys list`")
        if len(found) > 1:
            raise InputError(f"{ref!r} matches {len(found)} keys ({', '.join(k.key_id for k in found)}); give more")
        return found[0]

    def revoke(self, ref: str) -> KeyInfo:
        """Revoke the key ``ref`` names (see ``find``); revoking it again keeps the first time."""
        info = self.find(ref)
        with self._lock:
            self._db.execute(
                "UPDATE keys SET revoked = COALESCE(revoked, ?) WHERE substr(digest, 1, ?) = ?",
                (self._clock(), ID_CHARS, info.key_id),
            )
        return self.find(info.key_id)


_SELECT = f"substr(digest, 1, {ID_CHARS}), name, address, prefix, created, expires, revoked"


def _row_info(row: tuple[object, ...]) -> KeyInfo:
    return KeyInfo.model_validate(dict(zip(KeyInfo.model_fields, row, strict=True)))


def _prefix_match(prefix: str, ref: str) -> bool:
    """A reference given as the start of the key itself, as ``list`` shows it (``sk-llmnet-3f9a12…``)."""
    ref = ref.rstrip("…").rstrip(".")
    return bool(prefix) and ref.startswith(PREFIX) and len(ref) > len(PREFIX) and prefix.startswith(ref)
