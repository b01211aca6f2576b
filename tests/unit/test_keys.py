from __future__ import annotations

import json
import stat
import traceback
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from llmnet.errors import InputError, KeystoreError
from llmnet.keys import PASSWORD_ENV, PRIVATE_KEY_ENV, KeyRing, create_keystore, load_account

# pbkdf2 with 16 rounds keeps each keystore test in the millisecond range
FAST: dict[str, Any] = {"kdf": "pbkdf2", "kdf_iterations": 16}
PASSWORD = "correct horse battery staple"
KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
KEY_ADDRESS = Account.from_key(KEY).address


def _chain(err: BaseException | None) -> list[BaseException]:
    links: list[BaseException] = []
    while err is not None and err not in links:
        links.append(err)
        err = err.__cause__ or err.__context__
    return links


def assert_secret_absent(err: BaseException, *secrets: str) -> None:
    """No secret in the message, the repr, the traceback or any chained exception."""
    assert err.__cause__ is None
    assert err.__suppress_context__ or err.__context__ is None
    texts = ["".join(traceback.format_exception(err))]
    texts += [text for link in _chain(err) for text in (str(link), repr(link))]
    for secret in secrets:
        for text in texts:
            assert secret not in text
            assert secret.removeprefix("0x") not in text


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    path = tmp_path / "alice.json"
    create_keystore(path, PASSWORD, KEY, **FAST)
    return path


def test_create_then_load_round_trip(keystore: Path) -> None:
    account = load_account(keystore=keystore, password=PASSWORD, env={})
    assert account.address == KEY_ADDRESS
    assert account.key.hex() == KEY.removeprefix("0x")


def test_created_file_is_private_and_standard(keystore: Path) -> None:
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    data = json.loads(keystore.read_text())
    assert data["version"] == 3
    assert data["crypto"]["kdf"] == "pbkdf2"
    assert data["crypto"]["kdfparams"]["c"] == 16
    assert KEY.removeprefix("0x") not in keystore.read_text()
    assert PASSWORD not in keystore.read_text()


def test_create_without_key_makes_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "new.json"
    address = create_keystore(path, PASSWORD, **FAST)
    assert load_account(keystore=path, password=PASSWORD, env={}).address == address


def test_scrypt_work_factor_is_passed_through(tmp_path: Path) -> None:
    path = tmp_path / "scrypt.json"
    create_keystore(path, PASSWORD, KEY, kdf="scrypt", kdf_iterations=2**4)
    assert json.loads(path.read_text())["crypto"]["kdfparams"]["n"] == 16
    assert load_account(keystore=path, password=PASSWORD, env={}).address == KEY_ADDRESS


def test_create_refuses_to_overwrite(keystore: Path) -> None:
    before = keystore.read_text()
    with pytest.raises(KeystoreError, match="already exists"):
        create_keystore(keystore, "other password", **FAST)
    assert keystore.read_text() == before


def test_create_rejects_bad_key_without_echoing_it(tmp_path: Path) -> None:
    secret = "0x" + "f" * 63 + "g"
    with pytest.raises(KeystoreError, match="not a valid secp256k1 private key") as info:
        create_keystore(tmp_path / "bad.json", PASSWORD, secret, **FAST)
    assert_secret_absent(info.value, secret)
    assert not (tmp_path / "bad.json").exists()


def test_create_rejects_empty_password_and_bad_iterations(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="password is empty"):
        create_keystore(tmp_path / "a.json", "", **FAST)
    with pytest.raises(InputError, match="kdf_iterations"):
        create_keystore(tmp_path / "a.json", PASSWORD, kdf="pbkdf2", kdf_iterations=0)


def test_unusable_kdf_settings_raise_keystore_error(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="cannot encrypt") as info:
        create_keystore(tmp_path / "a.json", PASSWORD, KEY, kdf="scrypt", kdf_iterations=3)
    assert_secret_absent(info.value, KEY, PASSWORD)
    assert not (tmp_path / "a.json").exists()


def test_wrong_password_hides_both_secrets(keystore: Path) -> None:
    wrong = "hunter2-wrong-password"
    with pytest.raises(KeystoreError, match="wrong password") as info:
        load_account(keystore=keystore, password=wrong, env={})
    assert_secret_absent(info.value, wrong, PASSWORD, KEY)


def test_password_comes_from_env_when_not_given(keystore: Path) -> None:
    account = load_account(keystore=keystore, env={PASSWORD_ENV: PASSWORD})
    assert account.address == KEY_ADDRESS


def test_explicit_password_wins_over_env(keystore: Path) -> None:
    env = {PASSWORD_ENV: "stale env password"}
    assert load_account(keystore=keystore, password=PASSWORD, env=env).address == KEY_ADDRESS


def test_missing_password_says_how_to_give_one(keystore: Path) -> None:
    with pytest.raises(KeystoreError, match=PASSWORD_ENV):
        load_account(keystore=keystore, env={})


def test_missing_keystore_file(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="does not exist") as info:
        load_account(keystore=tmp_path / "nope.json", password=PASSWORD, env={})
    assert_secret_absent(info.value, PASSWORD)


@pytest.mark.parametrize("content", ["not json", "[]", '{"version": 3}', '{"crypto": "x"}'])
def test_non_keystore_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "junk.json"
    path.write_text(content)
    with pytest.raises(KeystoreError, match="not an Ethereum keystore"):
        load_account(keystore=path, password=PASSWORD, env={})


def test_damaged_keystore(keystore: Path) -> None:
    data = json.loads(keystore.read_text())
    del data["crypto"]["ciphertext"]
    keystore.write_text(json.dumps(data))
    with pytest.raises(KeystoreError, match="damaged") as info:
        load_account(keystore=keystore, password=PASSWORD, env={})
    assert_secret_absent(info.value, PASSWORD, KEY)


def test_edited_address_is_detected(keystore: Path) -> None:
    data = json.loads(keystore.read_text())
    data["address"] = "22" * 20
    keystore.write_text(json.dumps(data))
    with pytest.raises(KeystoreError, match="was edited"):
        load_account(keystore=keystore, password=PASSWORD, env={})


def test_key_from_env() -> None:
    assert load_account(env={PRIVATE_KEY_ENV: KEY}).address == KEY_ADDRESS
    assert load_account(env={PRIVATE_KEY_ENV: f"  {KEY.removeprefix('0x')}\n"}).address == KEY_ADDRESS


def test_keystore_takes_precedence_over_env_key(keystore: Path) -> None:
    env = {PRIVATE_KEY_ENV: "0x" + "11" * 32, PASSWORD_ENV: PASSWORD}
    assert load_account(keystore=keystore, env=env).address == KEY_ADDRESS


def test_no_key_configured_says_what_to_set() -> None:
    with pytest.raises(KeystoreError, match=PRIVATE_KEY_ENV):
        load_account(env={})


@pytest.mark.parametrize(
    "secret",
    [
        "0x" + "ab" * 31,  # too short
        "0xsupersecretnotahexkey" + "0" * 42,  # not hex
        "0x" + "00" * 32,  # zero is not a valid scalar
        "0x" + "ff" * 32,  # above the curve order
    ],
)
def test_malformed_env_key_is_never_echoed(secret: str) -> None:
    with pytest.raises(KeystoreError, match="not a valid secp256k1 private key") as info:
        load_account(env={PRIVATE_KEY_ENV: secret})
    assert_secret_absent(info.value, secret)


def test_keyring_create_load_and_list(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "keys")
    assert ring.names() == []
    validator = ring.create("validator", PASSWORD, **FAST)
    imported = ring.create("coordinator-1", PASSWORD, private_key=KEY, **FAST)
    assert imported == KEY_ADDRESS
    (tmp_path / "keys" / "Not A Key.json").write_text("{}")
    assert ring.names() == ["coordinator-1", "validator"]
    assert ring.load("validator", PASSWORD).address == validator
    assert ring.address_of("coordinator-1") == KEY_ADDRESS
    assert ring.path_of("validator") == tmp_path / "keys" / "validator.json"


def test_keyring_refuses_duplicate_names(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    ring.create("alice", PASSWORD, **FAST)
    with pytest.raises(KeystoreError, match="already exists"):
        ring.create("alice", PASSWORD, **FAST)


def test_keyring_wrong_password_and_missing_name(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    ring.create("alice", PASSWORD, **FAST)
    with pytest.raises(KeystoreError, match="wrong password"):
        ring.load("alice", "nope")
    with pytest.raises(KeystoreError, match="does not exist"):
        ring.address_of("bob")


def test_keyring_ignores_password_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ring = KeyRing(tmp_path)
    ring.create("alice", PASSWORD, **FAST)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with pytest.raises(KeystoreError, match="wrong password"):
        ring.load("alice", "explicit but wrong")


@pytest.mark.parametrize("name", ["", "Alice", "../escape", "a/b", "-lead", "has space", "x" * 65])
def test_keyring_rejects_bad_names(tmp_path: Path, name: str) -> None:
    ring = KeyRing(tmp_path)
    with pytest.raises(InputError, match="invalid key name"):
        ring.create(name, PASSWORD, **FAST)
    with pytest.raises(InputError):
        ring.address_of(name)
