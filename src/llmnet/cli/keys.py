"""``llmnet keys``: requester accounts and their API keys."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from eth_account import Account
from rich.console import Console

from llmnet.api.keys import KeyBook
from llmnet.chain.network import DEV_CHAIN_IDS, dev_account, open_ledger
from llmnet.cli.options import DataDir, Port, RpcUrl, ether, settings
from llmnet.errors import ConfigError
from llmnet.keys import KeyRing
from llmnet.launcher import COORDINATOR_DEV
from llmnet.types import ETHER, checksum

app = typer.Typer(help="Create requester API keys (sk-llmnet-…) backed by chain accounts.", no_args_is_help=True)
console = Console()


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="a name for the key, e.g. alice")],
    deposit: Annotated[float, typer.Option(help="ETH to escrow for fees (dev chains: funded for you)")] = 0.5,
    coordinator: Annotated[str | None, typer.Option(help="coordinator address allowed to open tasks")] = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Create a requester account (encrypted keystore), escrow a deposit for it, approve the
    coordinator, and print its API key. The keystore password is $LLMNET_KEYSTORE_PASSWORD.

    Example: LLMNET_KEYSTORE_PASSWORD=… llmnet keys create alice --deposit 0.5
    """
    password = os.environ.get("LLMNET_KEYSTORE_PASSWORD")
    if not password:
        raise ConfigError("set LLMNET_KEYSTORE_PASSWORD to the password for the new keystore")
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
    api_key = KeyBook(s.data_dir / "network" / "state" / "keys.sqlite").create(name, address)
    console.print(f"account  {address} (keystore {s.data_dir / 'keys' / (name + '.json')})")
    console.print(f"deposit  {ether(amount)} escrowed, coordinator {spender} approved")
    console.print(f"api key  [bold]{api_key}[/]  (shown once)")
