"""``llmnet credits``: what respondents, validators and coordinators earned, held by the escrow until withdrawn."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from llmnet.cli.options import DataDir, Port, RpcUrl, ether
from llmnet.cli.wallet.account import (
    ChainId,
    DeploymentAddress,
    Dev,
    Keystore,
    PasswordFile,
    open_chain,
    open_wallet,
    show_receipt,
)
from llmnet.types import checksum

app = typer.Typer(help="Show and withdraw the credits an account earned from settled tasks.", no_args_is_help=True)
console = Console(soft_wrap=True)


@app.command()
def show(
    address: Annotated[str | None, typer.Argument(help="any account; default: the signing account")] = None,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Show an account's credits waiting to be withdrawn.

    Example: llmnet credits show 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    """
    if address is None:
        wallet = open_wallet(rpc_url, data_dir, port, chain_id, keystore, password_file, dev, deployment)
        ledger, who = wallet.ledger, wallet.address
    else:
        ledger, who = open_chain(rpc_url, data_dir, port, chain_id, deployment), checksum(address)
    console.print(f"{who}: {ether(ledger.credits_of(who))} of credits to withdraw on chain {ledger.chain_id}")


@app.command()
def withdraw(
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Withdraw all the signing account's credits to it.

    Example: llmnet credits withdraw --keystore respondent.json --rpc-url http://10.0.0.1:8545
    """
    show_receipt(
        open_wallet(rpc_url, data_dir, port, chain_id, keystore, password_file, dev, deployment).withdraw_credits()
    )
