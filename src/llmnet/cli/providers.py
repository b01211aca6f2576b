"""``llmnet providers``: who serves which domain, with what stake and reputation."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from llmnet.chain.network import open_ledger
from llmnet.cli.options import DataDir, Port, RpcUrl, ether, settings

app = typer.Typer(help="List and inspect registered providers (respondents).", no_args_is_help=True)
console = Console()


@app.command(name="list")
def list_providers(
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
    domain: Annotated[str | None, typer.Option("--domain", help="only providers of this domain")] = None,
) -> None:
    """List registered providers with stake, model and per-domain reputation.

    Example: llmnet providers list --domain medicine --rpc-url http://127.0.0.1:8545
    """
    ledger = open_ledger(settings(rpc_url=rpc_url, data_dir=data_dir, chain_port=port))
    infos = ledger.providers(domain)
    table = Table(title=f"providers{f' of {domain}' if domain else ''} on chain {ledger.chain_id}")
    for column in ("address", "endpoint", "model", "licence", "stake", "domain: reputation (n)"):
        table.add_column(column)
    for p in infos:
        reps = []
        for d in p.profile.domains:
            r = ledger.reputation(p.address, d)
            reps.append(f"{d}: {r.mean():.2f} ({r.count})")
        model = f"{p.profile.model_id} {p.profile.model_version}".strip()
        table.add_row(
            p.address, p.profile.endpoint, model, p.profile.licence, ether(p.stake), "\n".join(reps)
        )
    console.print(table)
    if not infos:
        console.print("no providers registered yet")
