"""Export round trip on a real anvil node: rankings on chain + texts in the store -> files that load back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import datasets
import pytest
from eth_account.signers.local import LocalAccount

from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.rlhf.book import RankingBook, ResponseEntry
from llmnet.rlhf.export import export
from llmnet.rlhf.records import PERMISSIVE, RecordFilter, agreement_stats, apply_filter, collect_records
from llmnet.rlhf.texts import StoredTexts
from llmnet.store import ContentStore

pytestmark = pytest.mark.integration

ANSWERS = ("Rayleigh scattering\tof sunlight.", "Because the ocean\nreflects it.", "Blue paint.")
LICENCES = ("Apache-2.0", "Gemma", "MIT")


def post(book: RankingBook, store: ContentStore, prompt: str, author: LocalAccount, who: list[LocalAccount]) -> int:
    entries = [ResponseEntry(store.put(f"{a} ({prompt})", kind="response"), w.address, f"model-{i}", f"v{i}", lic)
               for i, (a, w, lic) in enumerate(zip(ANSWERS, who, LICENCES, strict=True))]  # fmt: skip
    cid, _ = book.post_conversation(store.put(prompt, kind="prompt"), "general", entries, author)
    return cid


def test_round_trip_of_every_format(ledger: Web3Ledger, accounts: list[LocalAccount], tmp_path: Path) -> None:
    book = RankingBook(ledger)
    alice, bob, carol = accounts[6:9]
    with ContentStore(tmp_path / "store.sqlite") as store:
        sky = post(book, store, "Why is the sky blue?", alice, accounts[:3])
        grass = post(book, store, "Why is grass green?", alice, accounts[:3])
        book.submit_ranking(sky, [2, 1, 0], alice)
        revised = book.submit_ranking(sky, [0, 1, 2], alice)
        book.submit_ranking(sky, [0, 2, 1], bob)
        book.submit_ranking(grass, [1, 0, 2], carol)
        records, missing = collect_records(book, StoredTexts([store]))
    assert missing == []
    assert [(r.conversation_id, r.ranker) for r in records] == [(sky, alice.address), (sky, bob.address),
                                                                 (grass, carol.address)]  # fmt: skip
    stats = agreement_stats(records)
    assert (stats.multiply_ranked, stats.mean_tau) == (1, pytest.approx(1 / 3))

    n = export(records, "dpo-jsonl", tmp_path / "dpo.jsonl")
    assert n == 9  # three ordered pairs per ranking of three
    rows = datasets.load_dataset("json", data_files=str(tmp_path / "dpo.jsonl"), split="train")
    first = rows[0]
    assert (first["prompt"], first["chosen"], first["rejected"]) == (
        "Why is the sky blue?", f"{ANSWERS[0]} (Why is the sky blue?)", f"{ANSWERS[1]} (Why is the sky blue?)"
    )  # fmt: skip
    assert (first["chosen_model"], first["chosen_model_version"], first["chosen_licence"]) == ("model-0", "v0",
                                                                                            "Apache-2.0")  # fmt: skip
    assert (first["rejected_licence"], first["ranker"]) == ("Gemma", alice.address)
    assert (first["chain_id"], first["contract"], first["transaction_hash"]) == (ledger.chain_id, book.address,
                                                                                 revised.tx_hash)  # fmt: skip
    assert first["block_number"] == revised.block_number  # the ranking's block: a training run's provenance
    pairs = {(r["conversation_id"], r["ranker"], r["chosen_rank"], r["rejected_rank"]) for r in rows}
    assert pairs == {(c, w, i, j) for c, w in ((sky, alice.address), (sky, bob.address), (grass, carol.address))
                     for i, j in ((0, 1), (0, 2), (1, 2))}  # fmt: skip

    export(records, "tsv", tmp_path / "out.tsv")
    with (tmp_path / "out.tsv").open(newline="") as f:
        table = list(csv.reader(f, delimiter="\t"))
    assert table[0][:4] == ["Conversation ID", "Prompt", "First Ranked Response", "Second Ranked Response"]
    assert table[3][:4] == [str(grass), "Why is grass green?", f"{ANSWERS[1]} (Why is grass green?)",
                            f"{ANSWERS[0]} (Why is grass green?)"]  # fmt: skip
    assert dict(zip(table[0], table[1], strict=True))["Transaction Hash"] == revised.tx_hash

    export(records, "json", tmp_path / "out.json")
    objects = json.loads((tmp_path / "out.json").read_text())
    assert set(objects[0]) >= {"conversationId", "prompt", "usersWhoSubmittedRanks", "firstRankedResponse",
                               "secondRankedResponse", "actions"}  # fmt: skip
    assert objects[0]["usersWhoSubmittedRanks"] == [alice.address, bob.address]
    assert [a["type"] for a in objects[0]["actions"]] == ["submit", "revise"]

    export(records, "hf", tmp_path / "hf")
    assert datasets.load_from_disk(str(tmp_path / "hf")).num_rows == 9

    permissive = apply_filter(records, RecordFilter(licences=PERMISSIVE))
    assert all(e.licence != "Gemma" for r in permissive for e in r.ranked)
    assert [len(r.ranked) for r in permissive] == [2, 2, 2]
    agreeing = apply_filter(records, RecordFilter(min_agreement=0.5))
    assert agreeing == []  # the two rankers of the sky agree at tau 1/3; the grass has one ranker
