"""API keys: listed without their secret, revoked at once (also from another process), expiring."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from llmnet.api.keys import KeyBook
from llmnet.chain.network import dev_account
from llmnet.errors import AuthenticationError, InputError, NotFound
from llmnet.launcher import DEMO_KEY_NAME, demo_key

ALICE, BOB = dev_account(3).address, dev_account(4).address


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_list_shows_ids_and_prefixes_never_the_key(tmp_path: Path) -> None:
    book = KeyBook(tmp_path / "keys.sqlite")
    key = book.create("alice", ALICE)
    (info,) = book.entries()
    assert (info.name, info.address, info.revoked, info.expires) == ("alice", ALICE, None, None)
    assert key.startswith(info.prefix) and len(info.prefix) < len(key) - 40
    assert key not in info.model_dump_json()
    assert book.find(info.key_id[:6]) == info == book.find(info.prefix) == book.find(key)


def test_a_revoked_key_is_refused_at_once_even_by_a_book_that_accepted_it(tmp_path: Path) -> None:
    serving = KeyBook(tmp_path / "keys.sqlite")  # the coordinator's book
    key, other = serving.create("alice", ALICE), serving.create("bob", BOB)
    assert serving.account_for(f"Bearer {key}") == ALICE
    cli = KeyBook(tmp_path / "keys.sqlite")  # `llmnet keys revoke`, another process
    revoked = cli.revoke(cli.entries()[0].key_id)
    assert revoked.revoked is not None and revoked.name == "alice"
    with pytest.raises(AuthenticationError, match="revoked"):
        serving.account_for(f"Bearer {key}")
    assert serving.account_for(f"Bearer {other}") == BOB


def test_a_key_with_a_lifetime_expires(tmp_path: Path) -> None:
    clock = Clock()
    book = KeyBook(tmp_path / "keys.sqlite", clock=clock)
    key = book.create("alice", ALICE, ttl_s=3600)
    assert book.entries()[0].expires == clock.now + 3600
    assert book.account_for(f"Bearer {key}") == ALICE
    clock.now += 3601
    with pytest.raises(AuthenticationError, match="expired"):
        book.account_for(f"Bearer {key}")
    with pytest.raises(InputError, match="positive"):
        book.create("bob", BOB, ttl_s=0)


def test_revoke_names_unknown_and_ambiguous_references(tmp_path: Path) -> None:
    book = KeyBook(tmp_path / "keys.sqlite")
    book.create("alice", ALICE)
    book.create("bob", BOB)
    with pytest.raises(NotFound, match="llmnet keys list"):
        book.revoke("zzzzzz")
    with pytest.raises(InputError, match="too short"):
        book.revoke("sk")
    assert [k.revoked for k in book.entries()] == [None, None]


def test_a_book_from_before_revocation_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "keys.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE keys (digest TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL,"
                   " created REAL NOT NULL)")  # fmt: skip
        db.execute("INSERT INTO keys VALUES (?, 'old', ?, 1.0)", ("abcd01" + "0" * 58, ALICE))
        db.execute("INSERT INTO keys VALUES (?, 'older', ?, 0.5)", ("abcd02" + "0" * 58, BOB))
    book = KeyBook(path)
    assert [(k.key_id, k.prefix, k.revoked) for k in book.entries()] == [
        ("abcd02000000", "", None),
        ("abcd01000000", "", None),
    ]
    with pytest.raises(InputError, match="matches 2 keys"):
        book.revoke("abcd")
    assert book.revoke("abcd01").revoked is not None
    assert [k.revoked is None for k in book.entries()] == [True, False]


def test_the_demo_key_is_reused_until_revoked_then_replaced(tmp_path: Path) -> None:
    book, key_file = KeyBook(tmp_path / "keys.sqlite"), tmp_path / "requester.key"
    first = demo_key(book, key_file)
    assert demo_key(book, key_file) == first and len(book.entries()) == 1
    assert book.entries()[0].expires is not None  # a demo key no longer lives forever
    book.revoke(book.entries()[0].key_id)
    second = demo_key(book, key_file)
    assert second != first and key_file.read_text() == second
    key_file.unlink()
    third = demo_key(book, key_file)
    demos = [k for k in book.entries() if k.name == DEMO_KEY_NAME]
    assert [k.usable(time.time()) for k in demos] == [False, False, True]
    assert book.account_for(f"Bearer {third}") == dev_account(9).address


def test_key_lifetimes_on_the_command_line() -> None:
    from llmnet.cli.keys import parse_ttl

    assert [parse_ttl(t) for t in (None, "90m", "12h", "30d", "45")] == [None, 5400, 43200, 2592000, 45]
    for bad in ("0d", "-1h", "soon", "3w"):
        with pytest.raises(InputError, match="positive duration"):
            parse_ttl(bad)
