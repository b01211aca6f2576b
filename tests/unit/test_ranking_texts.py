"""Per-ranker records from the in-memory rankings book, with texts from local stores or fetched by hash."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import httpx
from eth_account.signers.local import LocalAccount

from llmnet.rlhf.book import ResponseEntry
from llmnet.rlhf.export import export
from llmnet.rlhf.memory_book import MemoryRankingBook
from llmnet.rlhf.records import RankedRecord, collect_records
from llmnet.rlhf.signed import RankingMessage, sign_ranking
from llmnet.rlhf.texts import TEXT_ROUTE, NetworkTexts, StoredTexts, TextSources
from llmnet.store import ContentStore, content_hash

PROMPT, ANSWERS = "Why is the sky blue?", ("Rayleigh scattering.", "Because it reflects the sea.")


def conversation(book: MemoryRankingBook, store: ContentStore, accounts: list[LocalAccount]) -> int:
    entries = [ResponseEntry(store.put(a, kind="response"), accounts[i].address, f"m{i}", "1", "MIT")
               for i, a in enumerate(ANSWERS)]  # fmt: skip
    cid, _ = book.post_conversation(store.put(PROMPT, kind="prompt"), "general", entries, accounts[4])
    return cid


def test_two_rankers_of_one_conversation_are_two_records(tmp_path: Path, accounts: list[LocalAccount]) -> None:
    book, alice, bob, relayer = MemoryRankingBook(), accounts[6], accounts[7], accounts[8]
    with ContentStore(tmp_path / "store.sqlite") as store:
        cid = conversation(book, store, accounts)
        book.submit_ranking(cid, [0, 1], alice)
        message = RankingMessage(conversation_id=cid, ranks=(1, 0), nonce=0)
        book.submit_signed_ranking(sign_ranking(message, bob, chain_id=book.chain_id, contract=book.address), relayer)
        records, missing = collect_records(book, StoredTexts([store]))
    assert missing == []
    assert [(r.ranker, r.texts) for r in records] == [(alice.address, ANSWERS), (bob.address, ANSWERS[::-1])]
    assert all(r.rankers == (alice.address, bob.address) for r in records)
    rows = [json.loads(line) for line in _written(records, tmp_path).splitlines()]
    assert {(row["ranker"], row["chosen"]) for row in rows} == {(alice.address, ANSWERS[0]), (bob.address, ANSWERS[1])}


def _written(records: Sequence[RankedRecord], tmp_path: Path) -> str:
    export(records, "dpo-jsonl", tmp_path / "out.jsonl")
    return (tmp_path / "out.jsonl").read_text()


def test_rankings_without_texts_are_reported_with_their_hashes(tmp_path: Path, accounts: list[LocalAccount]) -> None:
    book = MemoryRankingBook()
    with ContentStore(tmp_path / "a.sqlite") as there, ContentStore(tmp_path / "b.sqlite") as here:
        cid = conversation(book, there, accounts)
        book.submit_ranking(cid, [0, 1], accounts[6])
        book.submit_ranking(cid, [1, 0], accounts[7])
        here.put(PROMPT, kind="prompt")
        here.put(ANSWERS[0], kind="response")
        records, missing = collect_records(book, StoredTexts([here]))
    assert records == []
    (gap,) = missing
    assert (gap.conversation_id, gap.rankings, gap.hashes) == (cid, 2, (content_hash(ANSWERS[1].encode()),))
    assert f"conversation {cid}: 2 ranking(s) left out" in gap.describe()


def serving(texts: dict[str, str], *, lie: bool = False) -> httpx.Client:
    """A coordinator's text route: the text for each hash it holds (``lie``: another text)."""

    def handle(request: httpx.Request) -> httpx.Response:
        wanted = request.url.path.removeprefix(TEXT_ROUTE + "/")
        if not request.url.path.startswith(TEXT_ROUTE) or wanted not in texts:
            return httpx.Response(404, json={"error": {"message": "no such text"}})
        return httpx.Response(200, text="forged" if lie else texts[wanted])

    return httpx.Client(transport=httpx.MockTransport(handle), base_url="http://coordinator")


def test_texts_are_fetched_by_hash_checked_and_kept(tmp_path: Path, accounts: list[LocalAccount]) -> None:
    book = MemoryRankingBook()
    held = {content_hash(t.encode()): t for t in (PROMPT, *ANSWERS)}
    with ContentStore(tmp_path / "there.sqlite") as there, ContentStore(tmp_path / "here.sqlite") as here:
        cid = conversation(book, there, accounts)
        book.submit_ranking(cid, [1, 0], accounts[6])
        liar = NetworkTexts(["http://liar"], keep=here, client=serving(held, lie=True))
        records, missing = collect_records(book, TextSources([StoredTexts([here]), liar]))
        assert records == [] and missing[0].rankings == 1
        assert "does not hash to" in liar.failures["http://liar"]
        remote = NetworkTexts(["http://coordinator/v1"], keep=here, client=serving(held))
        records, missing = collect_records(book, TextSources([StoredTexts([here]), remote]))
        assert missing == [] and records[0].texts == ANSWERS[::-1] and records[0].prompt == PROMPT
        offline = collect_records(book, StoredTexts([here]))  # kept: the next export needs no network
    assert offline[0] == records


def test_an_unreachable_coordinator_is_named(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    remote = NetworkTexts(["http://gone:8300"], client=httpx.Client(transport=httpx.MockTransport(refuse)))
    assert remote.text("0x" + "ab" * 32) is None
    assert remote.failures["http://gone:8300"].startswith("unreachable (ConnectError")
