"""``llmnet dataset``: preference datasets from the rankings on chain."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from llmnet.chain.network import open_ledger
from llmnet.cli.options import DataDir, RpcUrl, settings
from llmnet.errors import InputError
from llmnet.rlhf.book import RankingBook
from llmnet.rlhf.export import WRITERS, export
from llmnet.rlhf.records import PERMISSIVE, RecordFilter, agreement_stats, apply_filter, collect_records
from llmnet.store import ContentStore

app = typer.Typer(help="Export the rankings on chain as preference datasets.", no_args_is_help=True)
console = Console()


def _date(value: str | None, end: bool = False) -> datetime | None:
    if value is None:
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"date {value!r} is not an ISO date such as 2026-11-23 or 2026-11-23T18:00") from None
    if end and len(value) == 10:  # a bare date includes that whole day
        day = day.replace(hour=23, minute=59, second=59)
    return day if day.tzinfo else day.replace(tzinfo=UTC)


def _licences(licence: list[str] | None, permissive: bool) -> frozenset[str] | None:
    if not licence and not permissive:
        return None
    return frozenset(x.lower() for x in licence or ()) | (PERMISSIVE if permissive else frozenset())


@app.command(name="export")
def export_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write (a directory for hf)")],
    fmt: Annotated[str, typer.Option("--format", help=f"one of {', '.join(WRITERS)}")] = "dpo-jsonl",
    licence: Annotated[list[str] | None, typer.Option("--licence", help="keep responses under it (repeatable)")] = (
        None
    ),
    permissive: Annotated[bool, typer.Option(help="keep responses under permissive licences (MIT, Apache-2.0…)")] = (
        False
    ),
    since: Annotated[str | None, typer.Option(help="rankings made on or after this date (UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="rankings made on or before this date (UTC)")] = None,
    min_agreement: Annotated[
        float | None, typer.Option(help="keep conversations whose rankers agree at least this much (Kendall's tau)")
    ] = None,
    store: Annotated[list[Path] | None, typer.Option("--store", help="content store(s) holding the texts")] = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Write every current ranking on chain, with its texts and provenance, as a dataset.

    Texts come from the local content store (where `llmnet rank` puts them) and the running
    network's (where the dashboard puts them), or from --store.

    Example: llmnet dataset export --format dpo-jsonl -o prefs.jsonl --permissive --min-agreement 0.5
    """
    if fmt not in WRITERS:
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(WRITERS)}")
    s = settings(rpc_url=rpc_url, data_dir=data_dir)
    wanted = RecordFilter(_licences(licence, permissive), _date(since), _date(until, end=True), min_agreement)
    paths = store or [p for p in (s.store_file, s.data_dir / "network" / "state" / "store.sqlite") if p.exists()]
    stores = [ContentStore(p) for p in paths]
    try:
        records, missing = collect_records(RankingBook(open_ledger(s)), stores)
    finally:
        for opened in stores:
            opened.close()
    console.print(f"on chain: {agreement_stats(records).describe()}")
    if missing:
        console.print(f"[yellow]left out {missing} rankings whose texts are in none of {[str(p) for p in paths]}[/]")
    kept = apply_filter(records, wanted)
    written = export(kept, fmt, output)
    console.print(f"exported: {agreement_stats(kept).describe()}")
    console.print(f"wrote {written} {'pairs' if fmt in ('dpo-jsonl', 'hf') else 'rows'} as {fmt} to {output}")
