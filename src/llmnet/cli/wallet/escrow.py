"""``llmnet escrow``: a requester's deposit in the task escrow, its allowance to coordinators, refunds."""

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
    open_wallet,
    parse_amount,
    show_receipt,
)
from llmnet.errors import InputError
from llmnet.types import checksum

app = typer.Typer(
    help="Deposit into the task escrow, allow a coordinator to open tasks from it, withdraw, refund expired tasks.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)
Amount = Annotated[str, typer.Argument(help="amount: 0.5 (ETH), 0.5eth, 30000gwei, 12wei")]


@app.command()
def deposit(
    amount: Amount,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Deposit into the escrow the fees of future tasks.

    Example: llmnet escrow deposit 0.2 --keystore alice.json --rpc-url http://10.0.0.1:8545
    """
    show_receipt(open_wallet(rpc_url, data_dir, port, chain_id, keystore, password_file, dev, deployment).deposit(
        parse_amount(amount)))  # fmt: skip


@app.command()
def approve(
    coordinator: Annotated[str, typer.Argument(help="the coordinator's account address (its /health shows it)")],
    amount: Amount,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Allow a coordinator to open tasks paid from the deposit, up to AMOUNT in all (0 revokes it).

    Example: llmnet escrow approve 0x90F79bf6EB2c4f870365E785982E1f101E93b906 0.2 --keystore alice.json
    """
    wallet = open_wallet(rpc_url, data_dir, port, chain_id, keystore, password_file, dev, deployment)
    show_receipt(wallet.approve(coordinator, parse_amount(amount)))


@app.command()
def withdraw(
    amount: Annotated[str | None, typer.Argument(help="amount to take back: 0.1 (ETH), 30000gwei; or --all")] = None,
    all_: Annotated[bool, typer.Option("--all", help="take back the whole deposit")] = False,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Take back some or all of the deposit (fees of tasks already opened are not in it).

    Example: llmnet escrow withdraw --all --keystore alice.json
    """
    if (amount is None) == (not all_):
        raise InputError("give an amount to withdraw, or --all, not both")
    wallet = open_wallet(rpc_url, data_dir, port, chain_id, keystore, password_file, dev, deployment)
    show_receipt(wallet.withdraw_deposit(None if all_ else parse_amount(str(amount))))


@app.command()
def refund(
    task_id: Annotated[int, typer.Argument(help="the on-chain task id (the receipt's or `GET /tasks/…`'s task_id)")],
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Return the fee of a task that was not settled by its deadline to its requester's deposit.
    Any account may send it; the fee always goes back to the task's requester.

    Example: llmnet escrow refund 42 --keystore alice.json
    """
    show_receipt(
        open_wallet(rpc_url, data_dir, port, chain_id, keystore, password_file, dev, deployment).refund(task_id)
    )


@app.command()
def show(
    coordinator: Annotated[str | None, typer.Option(help="also show the allowance to this coordinator")] = None,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Show the signing account's deposit, balance and, with --coordinator, its allowance.

    Example: llmnet escrow show --coordinator 0x90F79bf6EB2c4f870365E785982E1f101E93b906 --dev 3
    """
    wallet = open_wallet(rpc_url, data_dir, port, chain_id, keystore, password_file, dev, deployment)
    led, me = wallet.ledger, wallet.address
    console.print(f"{me}: {ether(led.deposit_of(me))} deposited, {ether(led.balance_of(me))} in the account")
    if coordinator is not None:
        spender = checksum(coordinator, "coordinator address")
        console.print(f"{spender} may open tasks up to {ether(led.allowance(me, spender))} from it")
