from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmnet.errors import ContentNotFound, InputError, StoreError
from llmnet.store import ContentStore, canonical_json, content_hash, validate_hash

EMPTY_KECCAK = "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "content.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[ContentStore]:
    with ContentStore(db_path) as opened:
        yield opened


def test_content_hash_is_keccak256_lowercase_hex() -> None:
    assert content_hash(b"") == EMPTY_KECCAK
    digest = content_hash(b"hello")
    assert digest == "0x1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8"


def test_canonical_json_sorts_keys_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": [1, 2], "c": "é"}) == '{"a":[1,2],"b":1,"c":"é"}'.encode()
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})


def test_canonical_json_rejects_non_json_values() -> None:
    with pytest.raises(InputError):
        canonical_json({"x": object()})
    with pytest.raises(InputError):
        canonical_json({"x": float("nan")})


def test_opening_creates_parent_dirs_and_uses_wal(db_path: Path, store: ContentStore) -> None:
    assert db_path.exists()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_put_get_round_trip_bytes_and_text(store: ContentStore) -> None:
    digest = store.put(b"\x00\xffbinary")
    assert digest == content_hash(b"\x00\xffbinary")
    assert store.get(digest) == b"\x00\xffbinary"
    text_hash = store.put("héllo", kind="prompt")
    assert store.get_text(text_hash) == "héllo"
    assert store.get(text_hash) == "héllo".encode()


def test_put_is_idempotent(store: ContentStore) -> None:
    first = store.put(b"same", kind="prompt")
    second = store.put(b"same", kind="response")
    assert first == second
    assert store.count() == 1
    assert store.kind_of(first) == "prompt"


def test_put_json_hashes_canonical_form(store: ContentStore) -> None:
    digest = store.put_json({"b": [1, 2], "a": "x"})
    assert digest == content_hash(b'{"a":"x","b":[1,2]}')
    assert store.put_json({"a": "x", "b": [1, 2]}) == digest
    assert store.get_json(digest) == {"a": "x", "b": [1, 2]}
    assert store.kind_of(digest) == "json"


def test_get_missing_raises_content_not_found(store: ContentStore) -> None:
    missing = "0x" + "ab" * 32
    with pytest.raises(ContentNotFound) as info:
        store.get(missing)
    assert info.value.content_hash == missing
    assert missing in str(info.value)
    assert not store.has(missing)


def test_uppercase_hash_is_accepted_and_normalised(store: ContentStore) -> None:
    digest = store.put(b"abc")
    upper = "0x" + digest[2:].upper()
    assert store.has(upper)
    assert store.get(upper) == b"abc"
    assert validate_hash(upper) == digest


@pytest.mark.parametrize("bad", ["", "0x", "ab" * 32, "0x" + "ab" * 31, "0x" + "zz" * 32, "0x" + "ab" * 33, 42, None])
def test_bad_hash_raises_input_error_naming_value(store: ContentStore, bad: object) -> None:
    with pytest.raises(InputError) as info:
        store.get(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)
    assert "64 hex digits" in str(info.value)
    with pytest.raises(InputError):
        store.has(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad_kind", ["", "Prompt", "has space", "-lead", "x" * 65])
def test_bad_kind_raises_input_error(store: ContentStore, bad_kind: str) -> None:
    with pytest.raises(InputError):
        store.put(b"x", kind=bad_kind)


def test_put_rejects_non_bytes(store: ContentStore) -> None:
    with pytest.raises(InputError):
        store.put(123)  # type: ignore[arg-type]


def test_corrupt_row_is_detected(db_path: Path, store: ContentStore) -> None:
    digest = store.put(b"original", kind="response")
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE content SET data = ? WHERE hash = ?", (b"tampered", digest))
    conn.close()
    with pytest.raises(StoreError, match="corrupt") as info:
        store.get(digest)
    assert not isinstance(info.value, ContentNotFound)
    assert content_hash(b"tampered") in str(info.value)


def test_get_text_and_json_reject_wrong_content(store: ContentStore) -> None:
    binary = store.put(b"\xff\xfe")
    with pytest.raises(StoreError, match="not UTF-8"):
        store.get_text(binary)
    text = store.put("not json")
    with pytest.raises(StoreError, match="not JSON"):
        store.get_json(text)


def test_list_is_newest_first_and_filters_by_kind(store: ContentStore) -> None:
    hashes = [store.put(f"item {i}", kind="prompt" if i % 2 else "response") for i in range(5)]
    assert store.list() == hashes[::-1]
    assert store.list(limit=2) == [hashes[4], hashes[3]]
    assert store.list("prompt") == [hashes[3], hashes[1]]
    assert store.list("receipt") == []
    assert store.kinds() == ["prompt", "response"]
    assert store.count() == 5
    assert store.count("response") == 3


@pytest.mark.parametrize("bad_limit", [0, -1, True, "10"])
def test_list_rejects_bad_limit(store: ContentStore, bad_limit: object) -> None:
    with pytest.raises(InputError):
        store.list(limit=bad_limit)  # type: ignore[arg-type]


def test_content_survives_reopen(db_path: Path) -> None:
    with ContentStore(db_path) as first:
        digest = first.put_json({"k": "v"}, kind="receipt")
    with ContentStore(db_path) as second:
        assert second.get_json(digest) == {"k": "v"}
        assert second.list("receipt") == [digest]


def test_closed_store_raises_store_error(db_path: Path) -> None:
    store = ContentStore(db_path)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.put(b"x")


def test_open_failure_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open"):
        ContentStore(blocker / "content.db")


def test_concurrent_puts_from_threads(store: ContentStore) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(50):
                digest = store.put(f"{n}-{i}")
                assert store.get_text(digest) == f"{n}-{i}"
        except BaseException as exc:  # collected and re-checked in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count() == 400
