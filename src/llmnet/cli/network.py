"""``llmnet up``, ``llmnet demo``, ``llmnet ask``: run and use a local network."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import openai
import pydantic
import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from llmnet.cli.options import DataDir, Port, ether, requester_key, settings
from llmnet.cli.providers import reputation_lines
from llmnet.data import DEFAULT_NETWORK_FILE, QUESTIONS_FILE
from llmnet.defaults import DEFAULT_K, DEFAULT_ROUNDS, MAX_K, MAX_ROUNDS
from llmnet.errors import ConfigError, CoordinatorRefused
from llmnet.launcher import Network, NetworkOptions, network_options
from llmnet.questions import Question, load_questions
from llmnet.roles.peers import PeerDeadlines

console = Console()


Rounds = Annotated[
    int | None,
    typer.Option(
        min=0, max=MAX_ROUNDS, help=f"collaborative prompting rounds (0 = plain best-of-k; default {DEFAULT_ROUNDS})"
    ),
]
K = Annotated[int | None, typer.Option("--k", min=1, max=MAX_K, help=f"respondents per query (default {DEFAULT_K})")]
NetworkConfig = Annotated[
    Path | None,
    typer.Option("--config", help="a network file (TOML) to start instead of the built-in network "
                 f"(the built-in one, commented, to copy: {DEFAULT_NETWORK_FILE})"),
]  # fmt: skip
_DEADLINES = PeerDeadlines.model_fields
RespondentTimeout = Annotated[
    float | None,
    typer.Option(help=f"seconds a respondent has to answer [default: {_DEADLINES['respondent_timeout_s'].default}]"),
]
RatingTimeout = Annotated[
    float | None,
    typer.Option(
        help=f"seconds a validator has to rate; once half of the validators rated, the others get only a short "
        f"grace [default: {_DEADLINES['rating_timeout_s'].default}]"
    ),
]


def deadlines(
    respondent_timeout: float | None, rating_timeout: float | None, base: PeerDeadlines | None = None
) -> PeerDeadlines:
    """The coordinator's deadlines: those given, ``base`` (else the defaults) for the rest (checked
    against their limits)."""
    given = {"respondent_timeout_s": respondent_timeout, "rating_timeout_s": rating_timeout}
    kept = base.model_dump(exclude_unset=True) if base is not None else {}
    try:
        return PeerDeadlines(**kept | {name: value for name, value in given.items() if value is not None})
    except pydantic.ValidationError as exc:
        problem = exc.errors()[0]
        option = "--" + str(problem["loc"][0]).removesuffix("_s").replace("_", "-")
        raise ConfigError(f"{option} {problem['input']}: {problem['msg']}; give a number of seconds") from None


def network_plan(config: Path | None, k: int | None, rounds: int | None, respondent_timeout: float | None,
                 rating_timeout: float | None) -> NetworkOptions:  # fmt: skip
    """The network to start: the file's (or the built-in one), with the flags given on top."""
    options = network_options(config)
    given: dict[str, Any] = {name: value for name, value in (("k", k), ("rounds", rounds)) if value is not None}
    limits = deadlines(respondent_timeout, rating_timeout, options.deadlines)
    return dataclasses.replace(options, deadlines=limits, **given)


def _start(data_dir: Path | None, port: int | None, options: NetworkOptions) -> Network:
    net = Network(settings(data_dir=data_dir, chain_port=port), options)
    # SIGTERM (a supervisor, `kill`) shuts the network down as cleanly as Ctrl-C does
    signal.signal(signal.SIGTERM, _interrupt)
    what = f"{len(options.respondents)} respondents, {options.validators} validators and the coordinator"
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as p:
        p.add_task(f"starting the chain, {what}…", total=None)
        try:
            net.start()
        except BaseException:
            net.stop()
            raise
    return net


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _banner(net: Network) -> None:
    lines = [f"OpenAI base URL  [bold]{net.base_url}[/]", f"requester key    [bold]{net.api_key}[/]"]
    lines += [f"{s.role:<12} {s.name:<18} {s.url}" for s in net.services]
    lines.append(f"logs             {net.root / 'logs'}")
    console.print(Panel("\n".join(lines), title="llmnet is up", expand=False))


def up(
    data_dir: DataDir = None,
    port: Port = None,
    config: NetworkConfig = None,
    k: K = None,
    rounds: Rounds = None,
    respondent_timeout: RespondentTimeout = None,
    rating_timeout: RatingTimeout = None,
) -> None:
    """Bring up a local network (chain, respondents, validators, coordinator) and serve until Ctrl-C.

    With --config, the network a file describes (respondents, validators, coordinator, ports); flags win over it.

    Example: llmnet up --config network.toml --rating-timeout 20
    """
    net = _start(data_dir, port, network_plan(config, k, rounds, respondent_timeout, rating_timeout))
    _banner(net)
    try:
        while all(p.poll() is None for p in net.processes.values()):
            time.sleep(0.5)
        console.print("[red]a service stopped; shutting the network down[/]")
    except KeyboardInterrupt:
        console.print("shutting down…")
    finally:
        net.stop()


def demo_questions(limit_per_domain: int = 2) -> list[Question]:
    picked: dict[str, list[Question]] = {}
    for q in load_questions(QUESTIONS_FILE):
        if len(picked.setdefault(q.domain, [])) < limit_per_domain:
            picked[q.domain].append(q)
    return [q for group in picked.values() for q in group]


def _show_answer(i: int, q: Question, resp: Any, seconds: float) -> None:
    receipt = (resp.model_extra or {})["llmnet"]["receipt"]
    table = Table(show_header=True, header_style="bold", expand=False)
    for col in ("respondent", "model", "reputation before", "answered", "score 1-10", "sources"):
        table.add_column(col)
    for r in receipt["respondents"]:
        chosen = "✓ final" if r["address"] == receipt["final_respondent"] else ("✓" if r["answered"] else "✗")
        score = f"{r['score']:.1f}" if r["score"] is not None else "-"
        table.add_row(r["address"][:10] + "…", str(r["model_id"] or "-"), f"{r['reputation_mean']:.2f}", chosen,
                      score, ", ".join(r["sources"]) or "-")  # fmt: skip
    console.print(f"\n[bold]Q{i}[/] [cyan]{q.question}[/]  (domain: {receipt['domain']}, {seconds:.1f}s)")
    console.print(table)
    console.print(f"[green]answer:[/] {resp.choices[0].message.content}")
    task = (resp.model_extra or {})["llmnet"]["task_id"]
    console.print(f"[dim]reference: {q.reference} · task {task[:14]}…[/]")


def _wait_settled(net: Network, task_ids: list[str], timeout: float = 90.0) -> list[dict[str, Any]]:
    base = net.base_url.removesuffix("/v1")
    deadline = time.monotonic() + timeout
    while True:
        key = {"Authorization": f"Bearer {net.api_key}"}  # a task is shown to its requester's key only
        tasks = [httpx.get(f"{base}/tasks/{t}", headers=key, timeout=10).json() for t in task_ids]
        if all(t["state"] == "settled" for t in tasks) or time.monotonic() > deadline:
            return tasks


def _show_chain(net: Network, tasks: list[dict[str, Any]]) -> None:
    assert net.ledger is not None
    ledger = net.ledger
    batches: dict[int, str] = {}
    for t in tasks:
        if t["settlement"]:
            batches[t["settlement"]["batch_id"]] = t["settlement"]["tx_hash"]
    table = Table(title="on chain: settled batches", expand=False)
    for col in ("batch", "tasks", "fees", "receipts root", "transaction"):
        table.add_column(col)
    for batch_id, tx in sorted(batches.items()):
        b = ledger.get_batch(batch_id)
        table.add_row(str(batch_id), str(b.task_count), ether(b.total_fees), b.receipts_root[:18] + "…", tx[:18] + "…")
    console.print(table)
    settled = sum(t["state"] == "settled" for t in tasks)
    console.print(f"{settled}/{len(tasks)} tasks settled on chain {ledger.chain_id}")
    providers = Table(title="on chain: providers, reputation and earnings", expand=False)
    for col in ("provider", "model", "domain: reputation mean (observations)", "stake", "credits earned"):
        providers.add_column(col)
    for p in ledger.providers():
        reps = reputation_lines(ledger, p)
        providers.add_row(p.address[:10] + "…", p.profile.model_id, ", ".join(reps), ether(p.stake),
                          ether(ledger.credits_of(p.address)))  # fmt: skip
    console.print(providers)


def demo(
    data_dir: DataDir = None,
    port: Port = None,
    k: K = None,
    rounds: Rounds = None,
    exit_after: Annotated[bool, typer.Option("--exit", help="stop after the questions")] = False,
    respondent_timeout: RespondentTimeout = None,
    rating_timeout: RatingTimeout = None,
) -> None:
    """Bring up a local network, ask questions across the domains, and show the answers,
    who was chosen and why, the scores and the on-chain records.

    Example: llmnet demo --exit
    """
    from openai import OpenAI

    net = _start(data_dir, port, network_plan(None, k, rounds, respondent_timeout, rating_timeout))
    try:
        _banner(net)
        client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=300)
        task_ids = []
        for i, q in enumerate(demo_questions(), 1):
            started = time.perf_counter()
            with console.status(f"Q{i}: asking the network…"):
                resp = client.chat.completions.create(
                    model="llmnet/auto", messages=[{"role": "user", "content": q.question}]
                )
            _show_answer(i, q, resp, time.perf_counter() - started)
            task_ids.append((resp.model_extra or {})["llmnet"]["task_id"])
        with console.status("waiting for the validators to settle the tasks on chain…"):
            tasks = _wait_settled(net, task_ids)
        _show_chain(net, tasks)
        if not exit_after:
            console.print(f"\nthe network keeps serving at {net.base_url}; Ctrl-C to stop")
            while all(p.poll() is None for p in net.processes.values()):
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        net.stop()


def ask(
    question: Annotated[str, typer.Argument(help="what to ask")],
    model: Annotated[str, typer.Option(help="llmnet/auto or llmnet/<domain>")] = "llmnet/auto",
    url: Annotated[str, typer.Option(help="the coordinator's OpenAI base URL")] = "http://127.0.0.1:8300/v1",
    key: Annotated[
        str | None, typer.Option(help="requester API key (default: $LLMNET_API_KEY or the demo key)")
    ] = None,
    stream: Annotated[bool, typer.Option(help="stream the answer")] = False,
    data_dir: DataDir = None,
) -> None:
    """Ask a running network (see `llmnet up`) one question.

    Example: llmnet ask "How far is a light-year?" --model llmnet/astronomy
    """
    messages: Any = [{"role": "user", "content": question}]
    with coordinator_errors(url):
        _ask(coordinator_client(url, key, data_dir), model, messages, stream)


def coordinator_client(url: str, key: str | None, data_dir: Path | None) -> Any:
    """An OpenAI client for the coordinator at ``url`` with the requester key: ``key``,
    $LLMNET_API_KEY, the key `llmnet keys login` kept for it, or the key `llmnet up` wrote."""
    from openai import OpenAI

    return OpenAI(base_url=url, api_key=requester_key(key, data_dir, url), timeout=300, max_retries=0)


@contextlib.contextmanager
def coordinator_errors(url: str) -> Iterator[None]:
    """The OpenAI client's errors as llmnet's: no coordinator, or the coordinator's refusal."""
    try:
        yield
    except openai.APIConnectionError:
        raise ConfigError(f"no coordinator answers at {url}; start a network with `llmnet up`") from None
    except openai.APIStatusError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        message = (body.get("error") or body).get("message", str(exc)) if isinstance(body, dict) else str(exc)
        raise CoordinatorRefused(exc.status_code, str(message)) from None


def _ask(client: Any, model: str, messages: Any, stream: bool) -> None:
    if stream:
        for chunk in client.chat.completions.create(model=model, messages=messages, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                console.print(chunk.choices[0].delta.content, end="")
        console.print()
        return
    resp = client.chat.completions.create(model=model, messages=messages)
    console.print(resp.choices[0].message.content)
    llmnet = resp.model_extra.get("llmnet") if resp.model_extra else None
    if llmnet:
        r = llmnet["receipt"]
        scores = {x["address"][:10]: x["score"] for x in r["respondents"]}
        console.print(f"[dim]task {llmnet['task_id']} · domain {r['domain']} · scores {scores}[/]")
