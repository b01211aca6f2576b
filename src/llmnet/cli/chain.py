"""``llmnet chain``: the embedded node and the contracts."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from llmnet.chain.deploy import DeploymentBook, resolve_deployment
from llmnet.chain.network import chain_url, connect, deploy, embedded_node, governance_account, open_ledger
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.cli.options import DataDir, Port, RpcUrl, ether, settings
from llmnet.errors import InputError, NotDeployed
from llmnet.types import checksum

app = typer.Typer(help="Run the embedded Ethereum node, deploy llmnet's contracts or attach to a deployment.",
                  no_args_is_help=True)  # fmt: skip
console = Console()


def print_status(ledger: Web3Ledger, url: str) -> None:
    d = ledger.deployment
    table = Table(title="llmnet chain", show_header=False)
    table.add_row("rpc url", url)
    table.add_row("chain id", str(ledger.chain_id))
    table.add_row("block", str(ledger.w3.eth.block_number))
    table.add_row("registry", d.registry)
    table.add_row("escrow + reputation", f"{d.escrow} (the deployment's address)")
    table.add_row("validator book", d.validator_book)
    table.add_row("rankings", d.rankings)
    table.add_row("deployed in block", str(d.block_number))
    table.add_row("governance", d.governance)
    table.add_row("minimum stake", ether(ledger.min_stake))
    table.add_row("domains", ", ".join(ledger.domains()))
    table.add_row("providers", str(len(ledger.providers())))
    table.add_row("validators", str(len(ledger.validators())))
    table.add_row("coordinators", str(len(ledger.coordinators())))
    table.add_row("tasks", str(ledger.task_count()))
    table.add_row("settled batches", str(ledger.batch_count()))
    console.print(table)


@app.command()
def up(data_dir: DataDir = None, port: Port = None) -> None:
    """Start the embedded node in the background, deploy the contracts if needed, print the status.

    Example: llmnet chain up --port 8645
    """
    s = settings(data_dir=data_dir, chain_port=port)
    ledger = open_ledger(s, start=True, deploy_missing=True)
    print_status(ledger, chain_url(s))


@app.command()
def down(data_dir: DataDir = None, port: Port = None) -> None:
    """Stop the embedded node (its state is dumped and kept for the next `up`).

    Example: llmnet chain down
    """
    node = embedded_node(settings(data_dir=data_dir, chain_port=port))
    if node.running_pid() is None:
        console.print("the embedded node is not running")
        return
    node.stop()
    console.print(f"stopped the embedded node at {node.url}")


@app.command()
def status(rpc_url: RpcUrl = None, data_dir: DataDir = None, port: Port = None) -> None:
    """Show the chain, the contracts and what they hold.

    Example: llmnet chain status --rpc-url http://127.0.0.1:8545
    """
    s = settings(rpc_url=rpc_url, data_dir=data_dir, chain_port=port)
    url = chain_url(s)
    print_status(open_ledger(s), url)


@app.command(name="deploy")
def deploy_command(
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
    domain: Annotated[list[str] | None, typer.Option("--domain", help="a domain to create (repeatable)")] = None,
    force: Annotated[bool, typer.Option(help="deploy again even if contracts are recorded")] = False,
) -> None:
    """Deploy llmnet's contracts to a node and record their addresses for its chain id.

    Uses $LLMNET_PRIVATE_KEY or $LLMNET_KEYSTORE as governance; on a local dev chain
    (chain id 1337 or 31337) the development account is used when neither is set.

    Example: llmnet chain deploy --rpc-url http://127.0.0.1:8545 --domain general --domain law
    """
    s = settings(rpc_url=rpc_url, data_dir=data_dir, chain_port=port, domains=tuple(domain) if domain else None)
    url = chain_url(s, start=rpc_url is None)
    if not force:
        try:
            ledger = open_ledger(s)
            console.print(f"contracts already deployed on chain {ledger.chain_id}; use --force to deploy again")
            print_status(ledger, url)
            return
        except NotDeployed:
            pass
    ledger = deploy(s, connect(url))
    console.print(f"[green]deployed[/] to chain {ledger.chain_id}; addresses recorded in {s.deployments_file}")
    print_status(ledger, url)


@app.command()
def attach(
    rpc_url: Annotated[str, typer.Option("--rpc-url", help="the chain's JSON-RPC URL", envvar="LLMNET_RPC_URL")],
    deployment: Annotated[str, typer.Option("--deployment", help="the deployment's address (its TaskEscrow)")],
    data_dir: DataDir = None,
) -> None:
    """Record a deployment someone else made, from its one address, so every other command works
    against that chain; the other contracts are read from it and checked.

    Example: llmnet chain attach --rpc-url http://10.0.0.1:8545 --deployment 0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512
    """
    s = settings(rpc_url=rpc_url, data_dir=data_dir)
    w3 = connect(rpc_url)
    found = resolve_deployment(w3, deployment)
    DeploymentBook(s.deployments_file).record(found)
    console.print(f"[green]attached[/] to the deployment at {found.escrow} on chain {found.chain_id}; "
                  f"recorded in {s.deployments_file}")  # fmt: skip
    print_status(Web3Ledger(w3, found), rpc_url)


@app.command()
def settlers(
    action: Annotated[str, typer.Argument(help="list, add or remove")] = "list",
    address: Annotated[str | None, typer.Argument(help="the validator's account (add, remove)")] = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """List the accounts the escrow lets settle, or (as governance: $LLMNET_PRIVATE_KEY or
    $LLMNET_KEYSTORE; on a local dev chain, development account 0) add or remove one. A validator
    whose config says `settler = true` starts only once it is listed.

    Example: llmnet chain settlers add 0x90F79bf6EB2c4f870365E785982E1f101E93b906 --rpc-url http://10.0.0.2:8545
    """
    ledger = open_ledger(settings(rpc_url=rpc_url, data_dir=data_dir, chain_port=port))
    if action == "list":
        for who in ledger.settlers():
            console.print(who, highlight=False)
        return
    if action not in ("add", "remove") or address is None:
        shown = f"{action} {address or ''}".strip()
        raise InputError(f"{shown!r} is not a settlers command: use list, add ADDRESS or remove ADDRESS")
    receipt = ledger.set_settler(checksum(address, "settler"), action == "add", governance_account(ledger.w3))
    console.print(f"{'added' if action == 'add' else 'removed'} settler {address} (tx {receipt.tx_hash})")


@app.command()
def faucet(
    address: Annotated[str, typer.Argument(help="the account to fund")],
    amount: Annotated[float, typer.Option(help="ETH to send")] = 2.0,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Send ETH to an account from a development account: local development chains only (on any other
    chain an operator funds its account as that chain's currency is got).

    Example: llmnet chain faucet 0x871bF2E7D165FFbab2BD9f44b11215d97e4bd4b8 --amount 2 --rpc-url http://10.0.0.2:8545
    """
    from llmnet.chain.network import DEV_CHAIN_IDS, dev_account
    from llmnet.errors import ConfigError
    from llmnet.launcher import fund
    from llmnet.types import ETHER

    if not 0 < amount <= 1000:
        raise InputError(f"amount must be more than 0 and at most 1000 ETH, got {amount}")
    ledger = open_ledger(settings(rpc_url=rpc_url, data_dir=data_dir, chain_port=port))
    if ledger.chain_id not in DEV_CHAIN_IDS:
        raise ConfigError(f"chain {ledger.chain_id} is not a local development chain: the faucet gives only test ETH")
    who = checksum(address, "account")
    fund(ledger, dev_account(0), who, int(amount * ETHER))
    console.print(f"sent {amount:g} ETH to {who}: it holds {ether(ledger.balance_of(who))}", highlight=False)
