"""``llmnet rank``: ask the network, compare its respondents' answers, rank them on chain."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.panel import Panel

from llmnet.chain.network import configured_account, open_ledger
from llmnet.cli.network import coordinator_client, coordinator_errors
from llmnet.cli.options import DataDir, RpcUrl, requester_key, settings
from llmnet.errors import InputError
from llmnet.launcher import REQUESTER_DEV
from llmnet.rlhf.book import Conversation, RankingBook
from llmnet.rlhf.flow import candidates_from_answer, parse_order, post_candidates
from llmnet.rlhf.signed import sign_ranking
from llmnet.rlhf.texts import FETCH_TIMEOUT_S, TEXT_ROUTE, NetworkTexts, StoredTexts, TextSources
from llmnet.store import ContentStore

console = Console()


def _show(conversation: Conversation, texts: list[str | None]) -> None:
    for i, (entry, text) in enumerate(zip(conversation.responses, texts, strict=True), 1):
        title = f"response {i} — {entry.respondent} · {entry.model_id} {entry.model_version} · {entry.licence}"
        shown = "(text not found here nor at the coordinator)" if text is None else text.strip() or "(empty)"
        console.print(Panel(shown, title=title, title_align="left"))


def _texts(conversation: Conversation, store: ContentStore, url: str) -> list[str | None]:
    """The responses' texts, from the local store or else from the coordinator (by hash)."""
    remote = NetworkTexts([url], keep=store)
    try:
        found = TextSources([StoredTexts([store]), remote])
        return [found.text(r.content_hash) for r in conversation.responses]
    finally:
        remote.client.close()


def _share(url: str, api_key: str, texts: list[str]) -> None:
    """Give the conversation's texts to the coordinator, which serves them by hash to exports on any host."""
    base = url.rstrip("/").removesuffix("/v1")
    try:
        resp = httpx.put(f"{base}{TEXT_ROUTE}", json={"texts": texts}, timeout=FETCH_TIMEOUT_S,
                         headers={"Authorization": f"Bearer {api_key}"})  # fmt: skip
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        console.print(f"[yellow]the texts stay in your local store only: {base} did not take them ({exc})[/]")


def _ask(client: Any, prompt: str, model: str, n: int, **sampling: Any) -> dict[str, Any]:
    resp = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                          extra_body={"llmnet": {"k": n, "rounds": 0}}, **sampling)  # fmt: skip
    llmnet: dict[str, Any] = (resp.model_extra or {}).get("llmnet") or {}
    if "answers" not in llmnet:
        raise InputError("the coordinator did not return its respondents' answers; upgrade it to rank them")
    return llmnet


def _candidates(client: Any, ledger: Any, prompt: str, model: str, n: int, samples: bool) -> tuple[str, list[Any]]:
    """The domain and the answers to rank: n respondents at once, or n sampled answers (one respondent
    per request, temperature 0.8, seeds 1..n)."""
    if not samples:
        llmnet = _ask(client, prompt, model, n)
        return llmnet["receipt"]["domain"], candidates_from_answer(llmnet, ledger.get_provider)
    blocks = [_ask(client, prompt, model, 1, temperature=0.8, seed=seed) for seed in range(1, n + 1)]
    found = [c for b in blocks for c in candidates_from_answer(b, ledger.get_provider)]
    unique = list({c.entry.content_hash: c for c in found}.values())
    return blocks[0]["receipt"]["domain"], unique


def rank(
    prompt: Annotated[str | None, typer.Argument(help="the prompt to ask (omit with --conversation)")] = None,
    n: Annotated[int, typer.Option("--n", min=2, max=16, help="how many respondents answer")] = 3,
    model: Annotated[str, typer.Option(help="llmnet/auto or llmnet/<domain>")] = "llmnet/auto",
    url: Annotated[str, typer.Option(help="the coordinator's OpenAI base URL")] = "http://127.0.0.1:8300/v1",
    key: Annotated[
        str | None, typer.Option(help="requester API key (default: $LLMNET_API_KEY or the demo key)")
    ] = None,
    order: Annotated[str | None, typer.Option(help="the ranking, best first, e.g. '2 1 3' (asked if omitted)")] = None,
    conversation: Annotated[int | None, typer.Option(help="revise your ranking of this conversation")] = None,
    samples: Annotated[bool, typer.Option(help="n sampled answers (different seeds), one respondent each")] = False,
    sign_only: Annotated[
        bool, typer.Option(help="print your signature of the ranking (for the dashboard to relay), send nothing")
    ] = False,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Ask a running network one prompt, rank its respondents' answers, and record the ranking on chain.

    Texts go to the local content store and to the coordinator (which serves them to exports on
    other hosts), hashes and the ranking to the rankings contract. The ranking account, which sends
    the ranking itself, is $LLMNET_PRIVATE_KEY / $LLMNET_KEYSTORE, or on a development chain the
    demo requester.

    Example: llmnet rank "Why is the sky blue?" --n 3 --order "2 1 3"
             llmnet rank "Write a haiku about rain." --n 3 --samples
             llmnet rank --conversation 4 --order "2 1" --sign-only   (a signature to paste into the dashboard)
    """
    s = settings(rpc_url=rpc_url, data_dir=data_dir)
    ledger = open_ledger(s)
    book, me = RankingBook(ledger), configured_account(ledger.w3, dev_index=REQUESTER_DEV)
    with ContentStore(s.store_file) as store:
        if conversation is None:
            if not prompt:
                raise InputError("give a prompt to ask, or --conversation ID to revise a ranking")
            with coordinator_errors(url), console.status(f"asking for {n} answers…"):
                domain, found = _candidates(coordinator_client(url, key, data_dir), ledger, prompt, model, n, samples)
            conversation, tx = post_candidates(book, store, prompt, domain, found, me)
            console.print(f"conversation [bold]{conversation}[/] posted on chain {ledger.chain_id} (tx {tx})")
            _share(url, requester_key(key, data_dir), [prompt, *(c.text for c in found)])
        posted = book.conversation(conversation)
        _show(posted, _texts(posted, store, url))
        typed = order if order is not None else typer.prompt("your ranking, best first (e.g. 2 1 3)")
        ranks = parse_order(typed, len(posted.responses))
        if sign_only:
            message = book.ranking_message(conversation, ranks, me.address)
            typer.echo(sign_ranking(message, me, chain_id=book.chain_id, contract=book.address).signature)
            return
        receipt = book.submit_ranking(conversation, ranks, me)
    best = posted.responses[ranks[0]]
    console.print(f"ranked conversation {conversation} as {typed!r} by {me.address} (tx {receipt.tx_hash}); "
                  f"preferred: {best.respondent} ({best.model_id})")  # fmt: skip
