"""The ``llmnet`` command line; errors from the exception tree are printed here, once."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from llmnet.cli import chain, dataset, keys, network, providers, team
from llmnet.cli import rank as rank_command
from llmnet.cli.sim import sim as sim_command
from llmnet.errors import LlmnetError

app = typer.Typer(
    name="llmnet",
    help="LLM-Net: a decentralized network of LLM providers kept honest by an EVM ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(network.up)
app.command()(network.demo)
app.command()(network.ask)
app.command()(rank_command.rank)
app.add_typer(chain.app, name="chain")
app.add_typer(keys.app, name="keys")
app.add_typer(providers.app, name="providers")
app.add_typer(team.app, name="team")
app.add_typer(dataset.app, name="dataset")
app.command(name="sim")(sim_command)

_err = Console(stderr=True)


def main() -> None:
    """Entry point: run the app and turn llmnet errors into one clear line and exit code 1."""
    try:
        app()
    except LlmnetError as exc:
        _err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
