"""``llmnet providers``: who serves which domain, with what stake and reputation."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from llmnet.chain.ledger import Ledger
from llmnet.chain.network import configured_account, open_ledger
from llmnet.cli.options import DataDir, Port, RpcUrl, ether, settings
from llmnet.errors import InputError
from llmnet.types import ETHER, ZERO_HASH, ProviderInfo, ProviderProfile

app = typer.Typer(help="List and inspect registered providers (respondents).", no_args_is_help=True)
console = Console()


def reputation_lines(ledger: Ledger, provider: ProviderInfo) -> list[str]:
    """``domain: mean (observations)`` for each of a provider's domains, one chain read each."""
    lines = []
    for d in provider.profile.domains:
        r = ledger.reputation(provider.address, d)
        lines.append(f"{d}: {r.mean():.2f} ({r.count})")
    return lines


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
        reps = reputation_lines(ledger, p)
        model = f"{p.profile.model_id} {p.profile.model_version}".strip()
        table.add_row(p.address, p.profile.endpoint, model, p.profile.licence, ether(p.stake), "\n".join(reps))
    console.print(table)
    if not infos:
        console.print("no providers registered yet")


@app.command()
def register(
    endpoint: Annotated[str, typer.Option(help="URL the respondent serves on")],
    domain: Annotated[list[str], typer.Option("--domain", help="a domain it serves (repeatable, 1-8)")],
    model_id: Annotated[str, typer.Option(help="model identifier, e.g. smollm2-135m-instruct")],
    stake: Annotated[float, typer.Option(help="stake in ETH, at least the registry minimum")] = 0.1,
    weights_sha256: Annotated[str, typer.Option(help="sha256 of the model weights, 0x + 64 hex")] = ZERO_HASH,
    model_version: Annotated[str, typer.Option(help="model version")] = "",
    licence: Annotated[str, typer.Option(help="model licence, e.g. Apache-2.0")] = "",
    dev_account: Annotated[int, typer.Option(help="development account index on a local dev chain")] = 1,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Register the configured account as a provider ($LLMNET_PRIVATE_KEY or $LLMNET_KEYSTORE;
    on a local dev chain, development account --dev-account).

    Example: llmnet providers register --endpoint http://127.0.0.1:8401 --domain law --model-id m --stake 1
    """
    if stake <= 0:
        raise InputError(f"stake must be positive, got {stake} ETH")
    ledger = open_ledger(settings(rpc_url=rpc_url, data_dir=data_dir, chain_port=port))
    account = configured_account(ledger.w3, dev_account)
    profile = ProviderProfile(
        endpoint=endpoint, domains=tuple(domain), model_id=model_id, weights_hash=weights_sha256,
        model_version=model_version, licence=licence,
    )  # fmt: skip
    receipt = ledger.register_provider(profile, int(stake * ETHER), account)
    console.print(f"[green]registered[/] {account.address} in {', '.join(domain)} (tx {receipt.tx_hash})")
