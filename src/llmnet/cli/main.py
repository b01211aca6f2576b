"""The ``llmnet`` command line; errors from the exception tree are printed here, once.

``llmnet sim`` builds only its own command: the others import web3, eth_account, openai and the
launcher, about 2 s of start-up a simulation never uses. ``app`` (the whole tree) is built on
first use.
"""

from __future__ import annotations

import sys
from functools import cache

import typer
from rich.console import Console

from llmnet.errors import LlmnetError

_err = Console(stderr=True)


def _typer() -> typer.Typer:
    return typer.Typer(
        name="llmnet",
        help="LLM-Net: a decentralized network of LLM providers kept honest by an EVM ledger.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )


@cache
def full_app() -> typer.Typer:
    """Every command."""
    from llmnet.cli import chain, dataset, domains, expert, keys, network, providers, serve, team
    from llmnet.cli import rank as rank_command
    from llmnet.cli.sim import sim as sim_command
    from llmnet.cli.wallet import credits, escrow, stake, validators

    app = _typer()
    app.command()(network.up)
    app.command()(network.demo)
    app.command()(network.ask)
    app.command()(rank_command.rank)
    app.command()(serve.serve)
    app.command()(serve.init)
    app.add_typer(chain.app, name="chain")
    app.add_typer(keys.app, name="keys")
    app.add_typer(providers.app, name="providers")
    app.add_typer(domains.app, name="domains")
    app.add_typer(team.app, name="team")
    app.add_typer(dataset.app, name="dataset")
    app.add_typer(expert.app, name="expert")
    app.add_typer(stake.app, name="stake")
    app.add_typer(credits.app, name="credits")
    app.add_typer(escrow.app, name="escrow")
    app.add_typer(validators.app, name="validators")
    app.command(name="sim")(sim_command)
    return app


def sim_app() -> typer.Typer:
    """``llmnet sim`` alone, parsed and helped exactly as in the whole tree."""
    from llmnet.cli.sim import sim as sim_command

    app = _typer()
    app.callback()(_root)  # a callback keeps ``sim`` a subcommand rather than the root command
    app.command(name="sim")(sim_command)
    return app


def _root() -> None:
    """LLM-Net: a decentralized network of LLM providers kept honest by an EVM ledger."""


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point: run the app and turn llmnet errors into one clear line and exit code 1."""
    app = sim_app() if sys.argv[1:2] == ["sim"] else full_app()
    try:
        app()
    except LlmnetError as exc:
        _err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
