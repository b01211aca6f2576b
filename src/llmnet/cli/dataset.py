"""``llmnet dataset``: preference datasets from the rankings on chain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from llmnet.chain.network import open_ledger
from llmnet.cli.options import DataDir, RpcUrl, settings
from llmnet.errors import InputError
from llmnet.rlhf.book import RankingBook
from llmnet.rlhf.export import WRITERS, export
from llmnet.rlhf.records import RecordFilter, agreement_stats, apply_filter, collect_records, licence_set, parse_day
from llmnet.rlhf.texts import MissingTexts, NetworkTexts, StoredTexts, TextSources
from llmnet.store import ContentStore

app = typer.Typer(help="Export the rankings on chain as preference datasets.", no_args_is_help=True)
console = Console()


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
    texts_from: Annotated[
        list[str] | None,
        typer.Option("--texts-from", help="coordinator URL(s) to fetch missing texts from by hash (repeatable)"),
    ] = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Write every current ranking on chain, with its texts and provenance, as a dataset.

    Texts come from the local content store (where `llmnet rank` puts them) and the running
    network's (where the dashboard puts them), or from --store; any still missing are fetched by
    hash from the coordinators given with --texts-from (and kept in the local store).

    Example: llmnet dataset export --format dpo-jsonl -o prefs.jsonl --permissive --min-agreement 0.5
             llmnet dataset export -o prefs.jsonl --texts-from http://coordinator.example:8300
    """
    if fmt not in WRITERS:
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(WRITERS)}")
    s = settings(rpc_url=rpc_url, data_dir=data_dir)
    wanted = RecordFilter(licence_set(licence, permissive), parse_day(since), parse_day(until, end=True), min_agreement)
    paths = store or [p for p in (s.store_file, s.data_dir / "network" / "state" / "store.sqlite") if p.exists()]
    stores = [ContentStore(p) for p in paths]
    local = next((x for x in stores if x.path == s.store_file), None)
    keep = stores[0] if store else local or ContentStore(s.store_file)  # where fetched texts are kept
    remote = NetworkTexts(texts_from or [], keep=keep)
    try:
        records, missing = collect_records(RankingBook(open_ledger(s)), TextSources([StoredTexts(stores), remote]))
    finally:
        remote.client.close()
        for opened in {id(x): x for x in [*stores, keep]}.values():
            opened.close()
    console.print(f"on chain: {agreement_stats(records).describe()}")
    _report_missing(missing, [str(p) for p in paths], remote)
    kept = apply_filter(records, wanted)
    written = export(kept, fmt, output)
    console.print(f"exported: {agreement_stats(kept).describe()}")
    console.print(f"wrote {written} {'pairs' if fmt in ('dpo-jsonl', 'hf') else 'rows'} as {fmt} to {output}")


def _report_missing(missing: list[MissingTexts], paths: list[str], remote: NetworkTexts) -> None:
    if not missing:
        return
    where = f"none of {paths}" + (f" nor {list(remote.base_urls)}" if remote.base_urls else "")
    console.print(f"[yellow]left out {sum(m.rankings for m in missing)} rankings whose texts are in {where}:[/]")
    for m in missing:
        console.print(f"[yellow]  {m.describe()}[/]")
    for url, why in remote.failures.items():
        console.print(f"[yellow]  {url}: {why}[/]")
    if not remote.base_urls:
        console.print("[yellow]  fetch them from the coordinator that posted them: --texts-from URL[/]")
