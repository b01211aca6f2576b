"""Loading and storing signing keys without ever leaking them.

A key comes from an encrypted Ethereum keystore (V3 JSON) or from the
``LLMNET_PRIVATE_KEY`` environment variable. Every failure is a
:class:`~llmnet.errors.KeystoreError` whose message says what to do and holds no
key or password; the original third-party exception is dropped from the chain
because its text may contain the secret.

    >>> address = create_keystore(Path("alice.json"), "pw")  # doctest: +SKIP
    >>> load_account(keystore=Path("alice.json"), password="pw").address == address  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_hex_address, to_checksum_address

from llmnet.errors import InputError, KeystoreError

__all__ = [
    "PASSWORD_ENV",
    "PRIVATE_KEY_ENV",
    "KdfName",
    "KeyRing",
    "create_keystore",
    "load_account",
]

PRIVATE_KEY_ENV = "LLMNET_PRIVATE_KEY"
PASSWORD_ENV = "LLMNET_KEYSTORE_PASSWORD"
KdfName = Literal["scrypt", "pbkdf2"]

_KEY_RE = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _account_from_key(key: str) -> LocalAccount | None:
    """The account for ``key``, or None; never raises, so no message can echo the key."""
    if not _KEY_RE.fullmatch(key):
        return None
    try:
        return Account.from_key(key)
    except Exception:  # out-of-range scalars; the text may contain the key
        return None


def _read_keystore(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeystoreError(f"keystore {path} does not exist; check the path or create one first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc}; check the file and its permissions") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("crypto"), dict):
        raise KeystoreError(f"{path} is not an Ethereum keystore (JSON with a 'crypto' section)")
    return data


def _decrypt(keyfile: dict[str, Any], password: str, path: Path) -> LocalAccount:
    key: bytes | None = None
    wrong_password = False
    try:
        key = bytes(Account.decrypt(keyfile, password))
    except ValueError as exc:
        wrong_password = "MAC mismatch" in str(exc)
    except Exception:  # anything from a damaged file; its text is not shown
        pass
    # raised outside the except blocks so the original error is not even the __context__
    if wrong_password:
        raise KeystoreError(f"wrong password for keystore {path}; try again with the password it was created with")
    if key is None:
        raise KeystoreError(f"keystore {path} is damaged and cannot be decrypted; restore it from a backup")
    return Account.from_key(key)


def _check_address(keyfile: dict[str, Any], account: LocalAccount, path: Path) -> None:
    declared = keyfile.get("address")
    if declared is None:
        return
    if not isinstance(declared, str) or to_checksum_address(_prefixed(declared)) != account.address:
        raise KeystoreError(
            f"keystore {path} names address {declared!r} but holds the key of {account.address}; "
            "the file was edited, restore it from a backup"
        )


def _prefixed(address: str) -> str:
    candidate = address if address.startswith("0x") else "0x" + address
    if not is_hex_address(candidate):
        raise KeystoreError(f"keystore address {address!r} is not 40 hex digits; restore the file from a backup")
    return candidate


def _load_keystore(path: Path, password: str) -> LocalAccount:
    keyfile = _read_keystore(path)
    account = _decrypt(keyfile, password, path)
    _check_address(keyfile, account, path)
    return account


def _load_env_key(env: Mapping[str, str]) -> LocalAccount:
    key = env.get(PRIVATE_KEY_ENV, "").strip()
    if not key:
        raise KeystoreError(
            f"no signing key configured: set {PRIVATE_KEY_ENV}, or pass a keystore file "
            f"(its password as an argument or in {PASSWORD_ENV})"
        )
    account = _account_from_key(key)
    if account is None:
        raise KeystoreError(
            f"{PRIVATE_KEY_ENV} is not a valid secp256k1 private key: expected 64 hex digits, optionally 0x-prefixed"
        )
    return account


def load_account(
    *,
    keystore: Path | None = None,
    password: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> LocalAccount:
    """Load the signing account from ``keystore`` if given, else from ``LLMNET_PRIVATE_KEY``.

    The keystore password is ``password`` or, when that is None, ``LLMNET_KEYSTORE_PASSWORD``.
    """
    if keystore is None:
        return _load_env_key(env)
    path = Path(keystore)
    secret = password if password is not None else env.get(PASSWORD_ENV)
    if secret is None:
        raise KeystoreError(f"no password for keystore {path}: pass one or set {PASSWORD_ENV}")
    return _load_keystore(path, secret)


def _encrypt(account: LocalAccount, password: str, kdf: KdfName | None, iterations: int | None) -> str:
    try:
        keyfile = Account.encrypt(account.key, password, kdf=kdf, iterations=iterations)
    except Exception:  # the text may contain the key
        keyfile = None
    if keyfile is None:
        raise KeystoreError(
            f"cannot encrypt the key with kdf={kdf!r}, iterations={iterations!r}; "
            "leave both unset for the secure defaults"
        )
    return json.dumps(keyfile, indent=2)


def _exists_error(path: Path) -> KeystoreError:
    return KeystoreError(f"keystore {path} already exists; choose another path or remove it first")


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL makes the existence check and the creation one atomic step
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeystoreError(f"keystore {path} already exists; choose another path or remove it first") from None
    except OSError as exc:
        raise KeystoreError(f"cannot create keystore {path}: {exc}") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _validate_new_keystore(path: Path, password: str, kdf_iterations: int | None) -> None:
    if not isinstance(password, str) or not password:
        raise InputError("keystore password is empty; choose a non-empty password")
    if kdf_iterations is not None and (isinstance(kdf_iterations, bool) or kdf_iterations < 1):
        raise InputError(f"kdf_iterations {kdf_iterations!r} is invalid: expected a positive integer")
    if path.exists():
        raise _exists_error(path)


def create_keystore(
    path: Path,
    password: str,
    private_key: str | None = None,
    *,
    kdf: KdfName | None = None,
    kdf_iterations: int | None = None,
) -> str:
    """Encrypt ``private_key`` (a new random key if None) into a new file at ``path``.

    Returns the account address. The file is created with mode 0o600 and never
    overwritten. ``kdf``/``kdf_iterations`` exist so tests can use a cheap work factor,
    e.g. ``kdf="pbkdf2", kdf_iterations=16``; leave them unset otherwise.
    """
    path = Path(path)
    _validate_new_keystore(path, password, kdf_iterations)
    account = Account.create() if private_key is None else _account_from_key(private_key.strip())
    if account is None:
        raise KeystoreError(
            "private_key is not a valid secp256k1 private key: expected 64 hex digits, optionally 0x-prefixed"
        )
    _write_private(path, _encrypt(account, password, kdf, kdf_iterations))
    return account.address


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InputError(
            f"invalid key name {name!r}: expected 1-64 characters of a-z, 0-9, '_' and '-', "
            "starting with a letter or digit"
        )
    return name


class KeyRing:
    """Named keystores in one directory, one ``NAME.json`` each.

    >>> ring = KeyRing(Path("~/.llmnet/keys").expanduser())  # doctest: +SKIP
    >>> ring.create("validator", "pw")  # doctest: +SKIP
    '0x...'
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_of(self, name: str) -> Path:
        return self.directory / f"{_check_name(name)}.json"

    def create(
        self,
        name: str,
        password: str,
        *,
        private_key: str | None = None,
        kdf: KdfName | None = None,
        kdf_iterations: int | None = None,
    ) -> str:
        path = self.path_of(name)
        return create_keystore(path, password, private_key, kdf=kdf, kdf_iterations=kdf_iterations)

    def load(self, name: str, password: str) -> LocalAccount:
        return load_account(keystore=self.path_of(name), password=password, env={})

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(path.stem for path in self.directory.glob("*.json") if _NAME_RE.fullmatch(path.stem))

    def address_of(self, name: str) -> str:
        """The address a keystore declares, read without decrypting it."""
        path = self.path_of(name)
        declared = _read_keystore(path).get("address")
        if not isinstance(declared, str):
            raise KeystoreError(f"keystore {path} has no 'address' field; load it with its password instead")
        return to_checksum_address(_prefixed(declared))
