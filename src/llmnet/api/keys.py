"""Requester API keys: ``sk-llmnet-…`` bearer tokens mapped to chain accounts.

Only a hash of each key is stored. The account behind a key deposits into the
escrow and approves the coordinator to open tasks from that deposit.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from llmnet.errors import AuthenticationError, InputError
from llmnet.types import checksum

PREFIX = "sk-llmnet-"


def _digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class KeyBook:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS keys (digest TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL,"
            " created REAL NOT NULL)"
        )
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}

    def create(self, name: str, address: str) -> str:
        """A new key for ``address``; the key itself is shown once and never stored."""
        if not name or len(name) > 64:
            raise InputError(f"key name {name!r} must be 1-64 characters")
        api_key = PREFIX + secrets.token_hex(24)
        with self._lock:
            self._db.execute(
                "INSERT INTO keys (digest, name, address, created) VALUES (?, ?, ?, ?)",
                (_digest(api_key), name, checksum(address, "requester address"), time.time()),
            )
        return api_key

    def account_for(self, authorization: str | None) -> str:
        """The requester address for an ``Authorization: Bearer …`` header, or AuthenticationError."""
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthenticationError("missing API key: send `Authorization: Bearer sk-llmnet-…`")
        api_key = authorization.removeprefix("Bearer ").strip()
        digest = _digest(api_key)
        if digest in self._cache:
            return self._cache[digest]
        with self._lock:
            row = self._db.execute("SELECT address FROM keys WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            raise AuthenticationError("invalid API key: create one with `llmnet keys create NAME`")
        self._cache[digest] = row[0]
        return str(row[0])

    def names(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(n, a) for n, a in self._db.execute("SELECT name, address FROM keys ORDER BY created")]
