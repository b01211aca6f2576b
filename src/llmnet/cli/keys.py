"""``llmnet keys``: requester accounts and their API keys (create, list, revoke)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Annotated

import typer
from eth_account import Account
from rich.console import Console
from rich.table import Table

from llmnet.api.keys import KeyBook, KeyInfo, key_book_file
from llmnet.chain.network import DEV_CHAIN_IDS, dev_account, open_ledger
from llmnet.cli.login import login
from llmnet.cli.options import DataDir, Port, RpcUrl, ether, settings
from llmnet.errors import ConfigError, InputError
from llmnet.keys import KeyRing
from llmnet.launcher import COORDINATOR_DEV
from llmnet.types import ETHER, checksum

app = typer.Typer(
    help="Requester API keys (sk-llmnet-…) bound to chain accounts: log in to a coordinator on any chain, or create,"
    " list and revoke them on a local network.",
    no_args_is_help=True,
)
console = Console()
app.command()(login)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
Ttl = Annotated[
    str | None, typer.Option("--ttl", help="how long the key is valid: 90m, 12h, 30d (default: until revoked)")
]


def parse_ttl(text: str | None) -> float | None:
    """Seconds in a lifetime such as ``90m``, ``12h``, ``30d`` or ``3600`` (seconds)."""
    if text is None:
        return None
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if found is None or float(found[1]) <= 0:
        raise InputError(f"key lifetime {text!r} is not a positive duration: use e.g. 90m, 12h or 30d")
    return float(found[1]) * _UNITS[found[2] or "s"]


def new_keystore_password() -> str:
    """The password for a keystore this command makes: $LLMNET_KEYSTORE_PASSWORD, which must be set."""
    password = os.environ.get("LLMNET_KEYSTORE_PASSWORD")
    if not password:
        raise ConfigError("set LLMNET_KEYSTORE_PASSWORD to the password for the new keystore")
    return password


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="a name for the key, e.g. alice")],
    deposit: Annotated[float, typer.Option(help="ETH to escrow for fees (dev chains: funded for you)")] = 0.5,
    coordinator: Annotated[str | None, typer.Option(help="coordinator address allowed to open tasks")] = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
    ttl: Ttl = None,
) -> None:
    """Create a requester account (encrypted keystore), escrow a deposit for it, approve the
    coordinator, and print its API key. The keystore password is $LLMNET_KEYSTORE_PASSWORD.

    Example: LLMNET_KEYSTORE_PASSWORD=… llmnet keys create alice --deposit 0.5
    """
    lifetime = parse_ttl(ttl)
    password = new_keystore_password()
    s = settings(rpc_url=rpc_url, data_dir=data_dir, chain_port=port)
    ledger = open_ledger(s)
    if ledger.chain_id not in DEV_CHAIN_IDS:
        raise ConfigError("keys create funds accounts only on a local dev chain; fund and approve by hand elsewhere")
    account = Account.create()
    address = KeyRing(s.data_dir / "keys").create(name, password, private_key=account.key.hex())
    amount = int(deposit * ETHER)
    spender = checksum(coordinator, "coordinator") if coordinator else dev_account(COORDINATOR_DEV).address
    gov = dev_account(0)
    ledger.w3.eth.send_transaction({"from": gov.address, "to": address, "value": amount + ETHER // 10})  # type: ignore[typeddict-item]
    ledger.deposit(amount, account)
    ledger.approve(spender, amount, account)
    api_key = KeyBook(key_book_file(s.data_dir)).create(name, address, ttl_s=lifetime)
    console.print(f"account  {address} (keystore {s.data_dir / 'keys' / (name + '.json')})")
    console.print(f"deposit  {ether(amount)} escrowed, coordinator {spender} approved")
    console.print(f"api key  [bold]{api_key}[/]  (shown once{_expiry(lifetime)})")


def _expiry(lifetime: float | None) -> str:
    return "" if lifetime is None else f", valid until {_when(time.time() + lifetime)}"


def _when(t: float | None) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def _state(key: KeyInfo) -> str:
    if key.revoked is not None:
        return f"revoked {_when(key.revoked)}"
    return "active" if key.usable(time.time()) else "expired"


@app.command("list")
def list_keys(data_dir: DataDir = None) -> None:
    """List the API keys of this data directory: id, start of the key, account, dates, state.
    The keys themselves are never shown again after `create`.

    Example: llmnet keys list
    """
    table = Table(title="API keys")
    for col in ("id", "key", "name", "account", "created", "expires", "state"):
        table.add_column(col)
    for k in KeyBook(key_book_file(settings(data_dir=data_dir).data_dir)).entries():
        shown = k.prefix + "…" if k.prefix else "-"
        table.add_row(k.key_id, shown, k.name, k.address, _when(k.created), _when(k.expires), _state(k))
    console.print(table)


@app.command()
def revoke(
    key: Annotated[str, typer.Argument(help="the key's id, or the start of the key, as `llmnet keys list` shows")],
    data_dir: DataDir = None,
) -> None:
    """Revoke an API key: a running coordinator refuses it from its next request on.

    Example: llmnet keys revoke 3f9a12c0b7de
    """
    info = KeyBook(key_book_file(settings(data_dir=data_dir).data_dir)).revoke(key)
    console.print(f"revoked {info.key_id} ({info.name}, {info.address})")


@app.command()
def new(
    keystore: Annotated[Path, typer.Argument(help="the keystore file to write, e.g. alice.json")],
) -> None:
    """Make a new account in an encrypted keystore (password: $LLMNET_KEYSTORE_PASSWORD) and print its
    address; nothing is sent on chain. Fund the account, then sign in with `llmnet keys login`.

    Example: LLMNET_KEYSTORE_PASSWORD=… llmnet keys new alice.json
    """
    from llmnet.keys import create_keystore

    password = new_keystore_password()
    if keystore.exists():
        raise InputError(f"{keystore} already exists; choose another file or remove it first")
    address = create_keystore(keystore, password)
    console.print(f"account {address} in {keystore}", highlight=False)
