"""The rankings contract on a real anvil node, through its typed client."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import BadRanking, InputError, UnknownConversation
from llmnet.rlhf.book import RankingBook, ResponseEntry
from llmnet.store import content_hash

pytestmark = pytest.mark.integration

PROMPT = content_hash(b"Why is the sky blue?")


def entries(n: int, accounts: list[LocalAccount]) -> list[ResponseEntry]:
    return [
        ResponseEntry(content_hash(f"answer {i}".encode()), accounts[i].address, f"model-{i}", "1.0", "apache-2.0")
        for i in range(n)
    ]


def test_post_rank_and_revise(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    book = RankingBook(ledger)
    author, alice, bob = accounts[5], accounts[6], accounts[7]
    responses = entries(3, accounts)
    cid, _ = book.post_conversation(PROMPT, "general", responses, author)
    again, _ = book.post_conversation(PROMPT, "law", responses[:2], author)
    assert (cid, again, book.conversation_count()) == (0, 1, 2)
    conversation = book.conversation(cid)
    assert conversation.author == author.address
    assert conversation.prompt_hash == PROMPT
    assert conversation.domain == "general"
    assert conversation.responses == tuple(responses)
    first = book.submit_ranking(cid, [2, 0, 1], alice)
    book.submit_ranking(cid, [0, 1, 2], bob)
    revised = book.submit_ranking(cid, [1, 2, 0], alice)
    assert [(r.ranker, r.ranks, r.revisions) for r in book.rankings(cid)] == [
        (alice.address, (1, 2, 0), 1),
        (bob.address, (0, 1, 2), 0),
    ]
    assert book.ranking(cid, bob.address).ranks == (0, 1, 2)
    events = [e for e in book.events() if e.conversation_id == cid]
    assert [(e.ranker, e.ranks, e.revised) for e in events] == [
        (alice.address, (2, 0, 1), False),
        (bob.address, (0, 1, 2), False),
        (alice.address, (1, 2, 0), True),
    ]
    assert (events[0].tx_hash, events[2].tx_hash) == (first.tx_hash, revised.tx_hash)
    assert book.rankings(again) == []


@pytest.mark.parametrize(
    ("ranks", "reason"),
    [
        ([0, 1], "length differs"),
        ([0, 1, 2, 2], "length differs"),
        ([0, 0, 1], "appears twice"),
        ([0, 1, 3], "out of range"),
    ],
)
def test_bad_rankings_revert_with_their_reason_and_change_nothing(
    ledger: Web3Ledger, accounts: list[LocalAccount], ranks: list[int], reason: str
) -> None:
    book = RankingBook(ledger)
    cid, _ = book.post_conversation(PROMPT, "general", entries(3, accounts), accounts[0])
    block = ledger.w3.eth.block_number
    with pytest.raises(BadRanking, match=reason):
        book.submit_ranking(cid, ranks, accounts[1])
    assert ledger.w3.eth.block_number == block
    assert book.rankings(cid) == []


def test_unknown_conversations_and_unencodable_input(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    book = RankingBook(ledger)
    with pytest.raises(UnknownConversation, match="unknown conversation"):
        book.submit_ranking(7, [0, 1], accounts[1])
    with pytest.raises(UnknownConversation):
        book.conversation(0)
    with pytest.raises(InputError, match="response indices"):
        book.submit_ranking(0, [0, -1], accounts[1])
    with pytest.raises(InputError, match="2 to 16 responses"):
        book.post_conversation(PROMPT, "general", entries(1, accounts), accounts[0])


def test_conversations_need_distinct_nonempty_responses(ledger: Web3Ledger, accounts: list[LocalAccount]) -> None:
    book = RankingBook(ledger)
    twins = [entries(1, accounts)[0]] * 2
    with pytest.raises(BadRanking, match="duplicate response hash"):
        book.post_conversation(PROMPT, "general", twins, accounts[0])
    assert book.conversation_count() == 0
