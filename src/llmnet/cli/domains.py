"""``llmnet domains``: the domains on chain and their cards (a description and a reference corpus)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table

from llmnet.chain.network import governance_account, open_ledger
from llmnet.cli.options import DataDir, Port, RpcUrl, settings
from llmnet.types import ZERO_HASH, DomainCard

app = typer.Typer(help="The domains on chain and their cards.", no_args_is_help=True)
console = Console()
Corpus = Annotated[Path | None, typer.Option(help="folder of the domain's .md/.txt reference documents")]
CorpusUrl = Annotated[
    str | None, typer.Option(help="where the packed corpus is served; a respondent's address is enough")
]
CheckCorpus = Annotated[bool, typer.Option(help="fetch the corpus from --url and check it before publishing")]


@app.command(name="list")
def list_domains(rpc_url: RpcUrl = None, data_dir: DataDir = None, port: Port = None) -> None:
    """Every domain on chain with its card.

    Example: llmnet domains list --rpc-url http://127.0.0.1:8545
    """
    ledger = open_ledger(settings(rpc_url=rpc_url, data_dir=data_dir, chain_port=port))
    table = Table(title=f"domains on chain {ledger.chain_id}")
    for column in ("domain", "description", "corpus hash", "corpus url"):
        table.add_column(column, overflow="fold")
    for card in ledger.domain_cards():
        corpus = card.corpus_hash if card.corpus_hash != ZERO_HASH else ""
        table.add_row(card.domain, card.description, corpus, card.corpus_url)
    console.print(table)


def corpus_url(url: str, corpus_hash: str) -> str:
    """``url`` as given, or a server's bare address with ``/v1/corpus/<hash>`` (a respondent's route) added."""
    return f"{url.rstrip('/')}/v1/corpus/{corpus_hash}" if urlsplit(url).path in ("", "/") else url


def checked_card(domain: str, description: str, corpus: Path | None, url: str | None, check: bool) -> DomainCard:
    """The card to publish; with ``check``, its corpus is first fetched from ``url`` and checked."""
    from llmnet.errors import InputError
    from llmnet.experts.corpus import corpus_hash_of, parse_packed, verify

    if (corpus is None) != (url is None):
        raise InputError("--corpus and --url go together: the folder names the corpus, the URL serves it")
    if corpus is None or url is None:
        return DomainCard(domain, description)
    corpus_hash = corpus_hash_of(corpus)
    card = DomainCard(domain, description, corpus_hash, corpus_url(url, corpus_hash))
    if check:
        from llmnet.experts.corpus_cache import download

        verify(parse_packed(download(card.corpus_url, domain)), expected=corpus_hash)
    return card


@app.command()
def card(
    domain: Annotated[str, typer.Argument(help="a domain on chain")],
    description: Annotated[str, typer.Option(help="what the domain covers, at most 256 bytes")] = "",
    corpus: Corpus = None,
    url: CorpusUrl = None,
    check: CheckCorpus = True,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Publish (or replace) a domain's card as governance ($LLMNET_PRIVATE_KEY or $LLMNET_KEYSTORE;
    on a local dev chain, development account 0).

    Example: llmnet domains card law --description "Courts and contracts" --corpus knowledge/law
    --url http://127.0.0.1:8403
    """
    new = checked_card(domain, description, corpus, url, check)
    ledger = open_ledger(settings(rpc_url=rpc_url, data_dir=data_dir, chain_port=port))
    receipt = ledger.set_domain_card(new, governance_account(ledger.w3))
    console.print(f"card of {domain!r} set in block {receipt.block_number}")
    if new.has_corpus:
        console.print(f"corpus {new.corpus_hash} at {new.corpus_url}", highlight=False, soft_wrap=True)


@app.command()
def add(
    domain: Annotated[str, typer.Argument(help="the new domain's name: lowercase letters, digits and dashes")],
    description: Annotated[str, typer.Option(help="what the domain covers, at most 256 bytes")],
    corpus: Corpus = None,
    url: CorpusUrl = None,
    check: CheckCorpus = True,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Create a domain on chain with its card, as governance ($LLMNET_PRIVATE_KEY or $LLMNET_KEYSTORE;
    on a local dev chain, development account 0). Coordinators learn it (from the description and the
    documents the card names) at their next refresh, and providers can register in it.

    Example: llmnet domains add glassblowing --description "Furnaces, glass and the craft" --corpus notes/
    --url http://10.0.0.7:8470
    """
    from llmnet.errors import InputError
    from llmnet.types import check_domain_name

    check_domain_name(domain)
    if not description.strip():
        raise InputError("a new domain needs a --description: coordinators learn the domain from it")
    new = checked_card(domain, description, corpus, url, check)
    ledger = open_ledger(settings(rpc_url=rpc_url, data_dir=data_dir, chain_port=port))
    if domain in ledger.domains():
        raise InputError(f"domain {domain!r} is already on chain; change its card with `llmnet domains card {domain}`")
    gov = governance_account(ledger.w3)
    ledger.add_domain(domain, gov)
    receipt = ledger.set_domain_card(new, gov)
    console.print(f"added domain {domain!r} with its card in block {receipt.block_number}")
