"""``llmnet validators``: the validator book as the chain holds it."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from llmnet.chain.wallet import utc
from llmnet.cli.options import DataDir, Port, RpcUrl, ether
from llmnet.cli.wallet.account import ChainId, DeploymentAddress, open_chain

app = typer.Typer(help="List the validators staked in the validator book.", no_args_is_help=True)
PIPED_WIDTH = 200  # a listing written to a file or a pipe keeps each validator on one line


def _console() -> Console:
    """The terminal's width on a terminal, else wide enough for a whole row (made per call, so the
    width is that of the output this command writes to)."""
    return Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)


@app.command(name="list")
def list_validators(
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """List every validator: address, endpoint, judge, stake, trust, and what is unstaking until when.

    Example: llmnet validators list --rpc-url http://10.0.0.1:8545
    """
    ledger = open_chain(rpc_url, data_dir, port, chain_id, deployment)
    table = Table(title=f"validators on chain {ledger.chain_id} (minimum stake {ether(ledger.validator_min_stake)})")
    table.add_column("address", no_wrap=True, min_width=42)  # whole: it is what a reader copies
    for column in ("endpoint", "judge", "stake", "trust", "unstaking"):
        table.add_column(column, overflow="fold")
    infos = ledger.validators()
    for v in infos:
        unstaking = f"{ether(v.unstaking)} until {utc(v.unlock_at)}" if v.unstaking else "-"
        table.add_row(v.address, v.endpoint, v.judge_model_id, ether(v.stake), f"{v.trust:.2f}", unstaking)
    console = _console()
    console.print(table)
    if not infos:
        console.print("no validators registered yet")
