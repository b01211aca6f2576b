"""Whose account a wallet command uses: a keystore, ``$LLMNET_PRIVATE_KEY``, or a development account
(only with an explicit ``--dev N``, and only on a local development chain)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from eth_account.signers.local import LocalAccount
from rich.console import Console

from llmnet.chain.ledger import Ledger
from llmnet.chain.wallet import Wallet, WalletReceipt
from llmnet.cli.options import settings
from llmnet.errors import ConfigError, InputError, KeystoreError, WrongChain
from llmnet.keys import PASSWORD_ENV, PRIVATE_KEY_ENV, load_account
from llmnet.types import ETHER, GWEI

KEYSTORE_ENV = "LLMNET_KEYSTORE"
_out = Console(soft_wrap=True)

Keystore = Annotated[
    Path | None,
    typer.Option(
        "--keystore", help=f"encrypted keystore of the account (password: ${PASSWORD_ENV} or --password-file)"
    ),
]
PasswordFile = Annotated[
    Path | None, typer.Option("--password-file", help="file holding the keystore's password (one line)")
]
Dev = Annotated[
    int | None, typer.Option("--dev", help="development account N of a local dev chain (never on a real chain)")
]
ChainId = Annotated[
    int | None, typer.Option("--chain-id", help="refuse unless the node is this chain (e.g. 1, 8453, 31337)")
]
DeploymentAddress = Annotated[
    str | None,
    typer.Option("--deployment", envvar="LLMNET_DEPLOYMENT",
                 help="the deployment's address (its TaskEscrow); default: the one `llmnet chain attach` recorded"),
]  # fmt: skip


_UNITS = {"eth": ETHER, "ether": ETHER, "gwei": GWEI, "wei": 1}


def parse_amount(text: str) -> int:
    """Wei in ``0.5``, ``0.5eth``, ``30000 gwei`` or ``12wei`` (a bare number is ETH), without float rounding."""
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*", text)
    unit = _UNITS.get(found[2].lower() or "eth") if found else None
    if found is None or unit is None:
        raise InputError(f"amount {text!r} is not a number of eth, gwei or wei: write e.g. 0.5, 0.5eth, 30000gwei")
    wei = Decimal(found[1]) * unit
    if wei != wei.to_integral_value():
        raise InputError(f"amount {text!r} is not a whole number of wei")
    return int(wei)


def read_password(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeystoreError(f"cannot read the password file {path}: {exc.strerror}; check the path") from None
    password = text.rstrip("\r\n")
    if not password:
        raise KeystoreError(f"the password file {path} is empty; write the keystore's password in it")
    return password


def check_chain(chain_id: int, expected: int | None) -> None:
    """Refuse to act on another chain than the one the user named."""
    if expected is not None and chain_id != expected:
        raise WrongChain(
            f"the node is chain {chain_id}, not chain {expected} as --chain-id says; check --rpc-url "
            "(or $LLMNET_RPC_URL)"
        )


def wallet_account(
    chain_id: int,
    keystore: Path | None = None,
    password_file: Path | None = None,
    dev: int | None = None,
    env: Mapping[str, str] = os.environ,
) -> LocalAccount:
    """The account to sign with: ``--dev N``, else ``--keystore`` (or ``$LLMNET_KEYSTORE``), else
    ``$LLMNET_PRIVATE_KEY``; a clear error naming every way when none is given."""
    from llmnet.chain.network import DEV_CHAIN_IDS, dev_account

    if dev is not None:
        if chain_id not in DEV_CHAIN_IDS:
            raise WrongChain(
                f"--dev {dev} names a development account, which only a local dev chain (ids "
                f"{sorted(DEV_CHAIN_IDS)}) funds; this node is chain {chain_id}: use --keystore or {PRIVATE_KEY_ENV}"
            )
        if dev < 0:
            raise ConfigError(f"--dev {dev}: development accounts are numbered from 0")
        return dev_account(dev)
    path = keystore or (Path(env[KEYSTORE_ENV]) if env.get(KEYSTORE_ENV) else None)
    if path is not None:
        password = read_password(password_file) if password_file else None
        return load_account(keystore=path, password=password, env=env)
    if env.get(PRIVATE_KEY_ENV):
        return load_account(env=env)
    raise ConfigError(
        f"no account given: pass --keystore FILE (its password in ${PASSWORD_ENV} or --password-file), "
        f"set {PRIVATE_KEY_ENV}, or on a local dev chain name a development account with --dev N"
    )


def open_chain(
    rpc_url: str | None, data_dir: Path | None, port: int | None, chain_id: int | None, deployment: str | None
) -> Ledger:
    """The configured chain's ledger: the deployment at ``deployment``, else the one recorded for the
    chain; checked against ``--chain-id``."""
    from llmnet.chain.deploy import resolve_deployment
    from llmnet.chain.network import chain_url, connect, open_ledger
    from llmnet.chain.web3_ledger import Web3Ledger

    s = settings(rpc_url=rpc_url, data_dir=data_dir, chain_port=port)
    if deployment is None:
        ledger = open_ledger(s)
    else:
        w3 = connect(chain_url(s))
        ledger = Web3Ledger(w3, resolve_deployment(w3, deployment))
    check_chain(ledger.chain_id, chain_id)
    return ledger


def open_wallet(
    rpc_url: str | None,
    data_dir: Path | None,
    port: int | None,
    chain_id: int | None,
    keystore: Path | None,
    password_file: Path | None,
    dev: int | None,
    deployment: str | None = None,
) -> Wallet:
    """:func:`open_chain` with the account to sign with."""
    ledger = open_chain(rpc_url, data_dir, port, chain_id, deployment)
    return Wallet(ledger, wallet_account(ledger.chain_id, keystore, password_file, dev))


def show_receipt(receipt: WalletReceipt) -> None:
    """What a wallet command did, and its transaction."""
    _out.print(receipt.done, highlight=False)
    _out.print(f"tx {receipt.tx_hash} (block {receipt.block_number})", highlight=False)
