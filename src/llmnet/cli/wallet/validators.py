"""``llmnet validators``: the validator book as the chain holds it."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from llmnet.chain.wallet import utc
from llmnet.cli.options import DataDir, Port, RpcUrl, ether
from llmnet.cli.wallet.account import ChainId, DeploymentAddress, open_chain

app = typer.Typer(help="List the validators staked in the validator book.", no_args_is_help=True)
console = Console()


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
    for column in ("address", "endpoint", "judge", "stake", "trust", "unstaking"):
        table.add_column(column)
    infos = ledger.validators()
    for v in infos:
        unstaking = f"{ether(v.unstaking)} until {utc(v.unlock_at)}" if v.unstaking else "-"
        table.add_row(v.address, v.endpoint, v.judge_model_id, ether(v.stake), f"{v.trust:.2f}", unstaking)
    console.print(table)
    if not infos:
        console.print("no validators registered yet")
