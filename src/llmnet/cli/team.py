"""``llmnet team``: run agent teams on the network, resume them, list them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from llmnet.agents.client import CallEvents
from llmnet.agents.costs import Budget
from llmnet.agents.message import EVERYONE, AgentMessage
from llmnet.agents.role import Role
from llmnet.agents.routing import Route
from llmnet.agents.runner import RunHooks, RunOutcome, check_inputs, new_run_id, resume_run, start_run
from llmnet.agents.runs import RunStore
from llmnet.agents.team import TeamEvents
from llmnet.agents.teams import TEAMS, TeamConfig
from llmnet.agents.teams.base import DEFAULT_BASE_URL
from llmnet.cli.options import DataDir, requester_key, settings
from llmnet.defaults import DEFAULT_FEE_PER_RESPONDENT_WEI, DEFAULT_MAX_TOKENS
from llmnet.errors import InputError, LlmnetError

app = typer.Typer(help="Agent teams (research, assistant) whose every LLM call goes through the network.",
                  no_args_is_help=True)  # fmt: skip
console = Console()

BudgetOption = Annotated[
    str | None, typer.Option(help="limits joined by commas: '5000tokens', '0.001ether', '20000gwei', '1e15wei'")
]
Key = Annotated[str | None, typer.Option(help="requester API key (default: $LLMNET_API_KEY or the `llmnet up` key)")]
Rounds = Annotated[int | None, typer.Option("--rounds", help="at most this many rounds (default 12)")]


def _store(data_dir: Path | None) -> RunStore:
    return RunStore(settings(data_dir=data_dir).data_dir / "agents" / "runs.sqlite")


class _Display(TeamEvents):
    """A progress bar over the rounds, the role at work, and one line per call with running totals."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("starting", total=None)

    def round_started(self, n: int, total: int) -> None:
        self.progress.update(self.task, completed=n - 1, total=total, description=f"round {n}")

    def acting(self, role: Role, action: str) -> None:
        self.progress.update(self.task, description=f"{role.name}: {action}")

    def published(self, message: AgentMessage, recipients: list[Role]) -> None:
        to = ", ".join(r.name for r in recipients) or ", ".join(sorted(message.send_to - {EVERYONE})) or "-"
        first_line = (message.content.splitlines() or [""])[0][:60]
        self.progress.console.print(f"[cyan]{message.sent_from}[/] {message.cause_by} → {to}: {first_line}",
                                    highlight=False, markup=True)  # fmt: skip

    def calls(self) -> CallEvents:
        def on_retry(route: Route, error: str, wait: float) -> None:
            self.progress.console.print(f"[yellow]retry[/] {route}: {error}; that route rests {wait:.1f}s")

        def on_cost(line: str) -> None:
            self.progress.console.print(f"[dim]{line}[/]", highlight=False)

        return CallEvents(on_retry=on_retry, on_cost=on_cost)


@app.command()
def run(
    team: Annotated[str, typer.Argument(help=f"one of: {', '.join(TEAMS)}")],
    inputs: Annotated[list[str], typer.Argument(help="the research topic, or the assistant's user turns")],
    budget: BudgetOption = None,
    rounds: Rounds = None,
    out: Annotated[Path | None, typer.Option(help="report file (default <data-dir>/agents/<run id>.md)")] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="folder of .md/.txt documents (research; default: sample)")
    ] = None,
    url: Annotated[list[str] | None, typer.Option(help="coordinator OpenAI base URL; repeat to add fallbacks")] = None,
    model: Annotated[list[str] | None, typer.Option(help="model for every call, e.g. llmnet/general; repeat")] = None,
    k: Annotated[int, typer.Option(help="respondents per call (the fee is k times the per-respondent fee)")] = 1,
    max_tokens: Annotated[
        int, typer.Option(help="completion tokens per call (the writer gets twice)")
    ] = DEFAULT_MAX_TOKENS,
    fee_per_respondent: Annotated[
        int, typer.Option(help="the coordinator's fee per respondent, in wei")
    ] = DEFAULT_FEE_PER_RESPONDENT_WEI,
    key: Key = None,
    data_dir: DataDir = None,
) -> None:
    """Run a team; its report is written to a file. A stopped run continues with `llmnet team resume`.

    Example: llmnet team run research "how do batteries help solar power" --budget 20000tokens,0.001ether
    """
    check_inputs(team, inputs)
    if corpus is not None and not corpus.is_dir():
        raise InputError(f"corpus {corpus} is not a folder; give a folder of .md or .txt documents")
    limits = Budget.parse(budget) if budget else Budget()
    run_id = new_run_id()
    report = (out or settings(data_dir=data_dir).data_dir / "agents" / f"{run_id}.md").resolve()
    try:
        config = TeamConfig(team=team, inputs=inputs, base_urls=url or [DEFAULT_BASE_URL], budget=limits,
                            n_round=12 if rounds is None else rounds, report_path=report,
                            corpus=corpus.resolve() if corpus else None, max_tokens=max_tokens, k=k, models=model,
                            fee_per_respondent_wei=fee_per_respondent)  # fmt: skip
    except ValueError as exc:
        raise InputError(f"bad team settings: {exc}") from None
    api_key = requester_key(key, data_dir)
    console.print(f"run [bold]{run_id}[/] ({team}); if it stops, continue it with `llmnet team resume {run_id}`")
    _show(_execute(run_id, lambda hooks: start_run(config, api_key, _store(data_dir), hooks, run_id)))


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="the id `llmnet team run` printed (see `llmnet team list`)")],
    budget: BudgetOption = None,
    rounds: Rounds = None,
    url: Annotated[list[str] | None, typer.Option(help="replace the run's coordinator URLs; repeat")] = None,
    key: Key = None,
    data_dir: DataDir = None,
) -> None:
    """Continue a stopped, failed or killed run from its saved messages; finished actions are not repeated.

    Example: llmnet team resume 3f2a9c1b7d4e --budget 40000tokens
    """
    new_budget = Budget.parse(budget) if budget else None
    if rounds is not None and rounds < 1:
        raise InputError(f"--rounds must be at least 1, got {rounds}")
    store = _store(data_dir)
    store.run(run_id)  # an unknown id is refused before anything else
    api_key = requester_key(key, data_dir)
    _show(_execute(run_id, lambda hooks: resume_run(run_id, api_key, store, hooks, new_budget, rounds, url)))


@app.command("list")
def list_runs(data_dir: DataDir = None) -> None:
    """The latest team runs with their status."""
    table = Table("run", "team", "status", "rounds", "input / error")
    for r in _store(data_dir).runs():
        inputs = TeamConfig.model_validate_json(r.config).inputs
        table.add_row(r.run_id, r.team, r.status, str(r.rounds_done), r.error or inputs[0][:60])
    console.print(table)


def _execute(run_id: str, work: Callable[[RunHooks], RunOutcome]) -> RunOutcome:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as progress:
        display = _Display(progress)
        hooks = RunHooks(team=display, calls=display.calls())
        try:
            return work(hooks)
        except LlmnetError:
            console.print(f"run {run_id} is saved; continue it with `llmnet team resume {run_id}`")
            raise


def _show(outcome: RunOutcome) -> None:
    spent = f"{outcome.calls} calls, {outcome.total_tokens} tokens, {outcome.total_wei} wei"
    if outcome.report_path is not None:
        console.print(f"[green]{outcome.status}[/]: report written to [bold]{outcome.report_path}[/] ({spent})")
    else:
        console.print(f"[yellow]{outcome.status}[/] without a report ({spent}); "
                      f"`llmnet team resume {outcome.run_id} --rounds N` gives it more rounds")  # fmt: skip
