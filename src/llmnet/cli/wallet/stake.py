"""``llmnet stake``: your stake as a respondent (provider registry), validator or coordinator (validator book)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from llmnet.chain.wallet import Role, duration, utc
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

app = typer.Typer(
    help="Add, unstake and withdraw your stake as a respondent, a validator or a coordinator.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)


class RoleName(StrEnum):
    respondent = "respondent"
    validator = "validator"
    coordinator = "coordinator"


As = Annotated[
    RoleName | None,
    typer.Option("--as", help="respondent, validator or coordinator; default: the one role the account holds"),
]
Amount = Annotated[str, typer.Argument(help="amount: 0.5 (ETH), 0.5eth, 30000gwei, 12wei")]


@app.command()
def add(
    amount: Amount,
    as_: As = None,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Add stake to a registered respondent or validator.

    Example: llmnet stake add 0.5 --as validator --keystore validator.json --rpc-url http://10.0.0.1:8545
    """
    wallet = open_wallet(rpc_url, data_dir, port, chain_id, keystore, password_file, dev, deployment)
    show_receipt(wallet.add_stake(wallet.role(_role(as_)), parse_amount(amount)))


@app.command()
def unstake(
    amount: Annotated[str | None, typer.Argument(help="amount to unstake: 0.5 (ETH), 30000gwei; or --all")] = None,
    all_: Annotated[bool, typer.Option("--all", help="unstake everything (stop serving in this role)")] = False,
    as_: As = None,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Move stake into the unstake cooldown; withdraw it once the cooldown is over. A respondent whose
    stake falls under the minimum is not chosen; a validator or coordinator gets no work while any of
    its stake is unstaking.

    Example: llmnet stake unstake --all --as respondent --keystore respondent.json
    """
    if (amount is None) == (not all_):
        raise InputError("give an amount to unstake, or --all, not both")
    wallet = open_wallet(rpc_url, data_dir, port, chain_id, keystore, password_file, dev, deployment)
    show_receipt(wallet.unstake(wallet.role(_role(as_)), None if all_ else parse_amount(str(amount))))


@app.command()
def withdraw(
    as_: As = None,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Withdraw the stake whose cooldown is over to the account.

    Example: llmnet stake withdraw --as validator --keystore validator.json
    """
    wallet = open_wallet(rpc_url, data_dir, port, chain_id, keystore, password_file, dev, deployment)
    show_receipt(wallet.withdraw_stake(wallet.role(_role(as_))))


@app.command()
def show(
    as_: As = None,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Show the account's stake, what is unstaking, and when it can be withdrawn.

    Example: llmnet stake show --dev 1
    """
    wallet = open_wallet(rpc_url, data_dir, port, chain_id, keystore, password_file, dev, deployment)
    p = wallet.position(wallet.role(_role(as_)))
    console.print(f"{wallet.address} as {p.role}: {ether(p.stake)} staked (minimum {ether(p.minimum)})")
    if p.unstaking:
        wait = p.unlock_at - wallet.ledger.pending_time()
        when = "withdrawable now" if wait <= 0 else f"withdrawable in {duration(wait)}, at {utc(p.unlock_at)}"
        console.print(f"{ether(p.unstaking)} unstaking, {when}")


def _role(name: RoleName | None) -> Role | None:
    return None if name is None else name.value
