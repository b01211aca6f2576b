"""One suite for the rankings contract and its in-memory model (llmnet.rlhf.memory_book).

Each person ranks as themselves: a ranking sent by its ranker, or signed by its ranker and sent by
a relayer, is the ranker's; two people ranking one conversation both count; ranking it again
replaces only one's own ranking; a relayer can neither rank as someone else nor replay an old
signed ranking. Each test runs on both books, with the same typed errors and revert strings.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from llmnet.errors import BadRanking, ContractRevert, UnknownConversation
from llmnet.hashing import keccak256
from llmnet.rlhf.book import RankingBook, ResponseEntry
from llmnet.rlhf.memory_book import MemoryRankingBook
from llmnet.rlhf.signed import RankingMessage, SignedRanking, ranking_digest, sign_ranking
from llmnet.store import content_hash

PROMPT = content_hash(b"Why is the sky blue?")
STALE = "ranking nonce is not the ranker's current one: sign again"
NOT_THEIRS = "ranking signature was not made by the ranker"


@pytest.fixture(params=["memory", pytest.param("anvil", marks=pytest.mark.integration)])
def book(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryRankingBook(chain_id=31337)
    return RankingBook(request.getfixturevalue("ledger"))


def post(book: Any, accounts: list[LocalAccount], n: int = 3) -> int:
    entries = [ResponseEntry(content_hash(f"answer {i}".encode()), accounts[i].address, f"model-{i}", "1", "MIT")
               for i in range(n)]  # fmt: skip
    cid, _ = book.post_conversation(PROMPT, "general", entries, accounts[4])
    return int(cid)


def signed(book: Any, cid: int, ranks: list[int], ranker: LocalAccount, nonce: int | None = None) -> SignedRanking:
    used = book.nonce(ranker.address) if nonce is None else nonce
    message = RankingMessage(conversation_id=cid, ranks=tuple(ranks), nonce=used)
    return sign_ranking(message, ranker, chain_id=book.chain_id, contract=book.address)


def held(book: Any, cid: int) -> list[tuple[str, tuple[int, ...], int]]:
    return [(r.ranker, r.ranks, r.revisions) for r in book.rankings(cid)]


@contextmanager
def refused(book: Any, cid: int, accounts: list[LocalAccount], error: type[Exception], reason: str) -> Iterator[None]:
    before = (held(book, cid), [book.nonce(a.address) for a in accounts])
    with pytest.raises(error) as info:
        yield
    assert type(info.value) is error
    assert isinstance(info.value, ContractRevert) and info.value.reason == reason
    assert (held(book, cid), [book.nonce(a.address) for a in accounts]) == before


def test_two_people_both_count_and_each_revises_only_their_own(book: Any, accounts: list[LocalAccount]) -> None:
    cid = post(book, accounts)
    alice, bob = accounts[6], accounts[7]
    book.submit_ranking(cid, [2, 0, 1], alice)
    book.submit_ranking(cid, [0, 1, 2], bob)
    book.submit_ranking(cid, [1, 2, 0], bob)
    assert held(book, cid) == [(alice.address, (2, 0, 1), 0), (bob.address, (1, 2, 0), 1)]
    events = [(e.ranker, e.ranks, e.revised) for e in book.events() if e.conversation_id == cid]
    assert events == [(alice.address, (2, 0, 1), False), (bob.address, (0, 1, 2), False),
                      (bob.address, (1, 2, 0), True)]  # fmt: skip
    assert (book.nonce(alice.address), book.nonce(bob.address)) == (1, 2)


def test_a_signed_ranking_is_the_signer_s_whoever_sends_it(book: Any, accounts: list[LocalAccount]) -> None:
    cid = post(book, accounts)
    alice, bob, relayer = accounts[6], accounts[7], accounts[8]
    book.submit_signed_ranking(signed(book, cid, [1, 0, 2], alice), relayer)
    book.submit_signed_ranking(signed(book, cid, [2, 1, 0], bob), relayer)
    book.submit_signed_ranking(signed(book, cid, [0, 1, 2], alice), relayer)  # a revision, signed anew
    assert held(book, cid) == [(alice.address, (0, 1, 2), 1), (bob.address, (2, 1, 0), 0)]
    assert relayer.address not in {e.ranker for e in book.events()}
    assert book.nonce(relayer.address) == 0


def test_a_relayer_cannot_replay_an_old_signed_ranking(book: Any, accounts: list[LocalAccount]) -> None:
    cid = post(book, accounts)
    alice, relayer = accounts[6], accounts[8]
    first = signed(book, cid, [1, 0, 2], alice)
    book.submit_signed_ranking(first, relayer)
    book.submit_signed_ranking(signed(book, cid, [0, 1, 2], alice), relayer)
    with refused(book, cid, accounts, BadRanking, STALE):
        book.submit_signed_ranking(first, relayer)
    assert book.ranking(cid, alice.address).ranks == (0, 1, 2)


def test_ranking_directly_uses_up_a_pending_signature(book: Any, accounts: list[LocalAccount]) -> None:
    cid = post(book, accounts)
    alice, relayer = accounts[6], accounts[8]
    pending = signed(book, cid, [1, 0, 2], alice)
    book.submit_ranking(cid, [2, 1, 0], alice)
    with refused(book, cid, accounts, BadRanking, STALE):
        book.submit_signed_ranking(pending, relayer)


def test_nobody_ranks_as_someone_else(book: Any, accounts: list[LocalAccount]) -> None:
    cid = post(book, accounts)
    alice, mallory = accounts[6], accounts[7]
    forged = signed(book, cid, [1, 0, 2], mallory).model_copy(update={"ranker": alice.address})
    with refused(book, cid, accounts, BadRanking, NOT_THEIRS):
        book.submit_signed_ranking(forged, mallory)
    other = post(book, accounts)  # a signature covers its conversation and ranks, nothing else
    moved = signed(book, cid, [1, 0, 2], alice)
    for changed in ({"conversation_id": other}, {"ranks": (0, 1, 2)}):
        tampered = moved.model_copy(update={"message": moved.message.model_copy(update=changed)})
        with refused(book, cid, accounts, BadRanking, NOT_THEIRS):
            book.submit_signed_ranking(tampered, mallory)
    assert book.rankings(other) == []


@pytest.mark.parametrize(
    ("ranks", "reason"),
    [([0, 1], "ranking length differs from the conversation's number of responses"),
     ([0, 0, 1], "ranking is not a permutation: an index appears twice"),
     ([0, 1, 5], "ranking is not a permutation: an index is out of range")],
)  # fmt: skip
def test_a_signed_ranking_must_be_a_permutation(
    book: Any, accounts: list[LocalAccount], ranks: list[int], reason: str
) -> None:
    cid = post(book, accounts)
    with refused(book, cid, accounts, BadRanking, reason):
        book.submit_signed_ranking(signed(book, cid, ranks, accounts[6]), accounts[8])


def test_unknown_conversation(book: Any, accounts: list[LocalAccount]) -> None:
    cid = post(book, accounts)
    with pytest.raises(UnknownConversation) as info:
        book.submit_signed_ranking(signed(book, cid + 1, [0, 1, 2], accounts[6]), accounts[8])
    assert info.value.reason == "unknown conversation"


def test_a_wallet_s_typed_data_signature_is_accepted(book: Any, accounts: list[LocalAccount]) -> None:
    """What a browser wallet signs (eth_signTypedData_v4 of book.typed_data) is what the book checks."""
    cid = post(book, accounts)
    alice = accounts[6]
    message = book.ranking_message(cid, [2, 0, 1], alice.address)
    typed = book.typed_data(message)
    signable = encode_typed_data(full_message=typed)
    digest = keccak256(b"\x19" + signable.version + signable.header + signable.body)
    assert digest == ranking_digest(message, chain_id=book.chain_id, contract=book.address)
    signature = "0x" + alice.sign_message(signable).signature.hex().removeprefix("0x")
    book.submit_signed_ranking(SignedRanking(message=message, ranker=alice.address, signature=signature), accounts[8])
    assert held(book, cid) == [(alice.address, (2, 0, 1), 0)]


@pytest.mark.integration
def test_the_contract_hashes_a_ranking_as_the_python_encoder_does(ledger: Any) -> None:
    book = RankingBook(ledger)
    for message in (RankingMessage(conversation_id=0, ranks=(1, 0), nonce=0),
                    RankingMessage(conversation_id=7, ranks=tuple(range(15, -1, -1)), nonce=2**40)):  # fmt: skip
        expected = ranking_digest(message, chain_id=ledger.chain_id, contract=book.address)
        assert book.digest_on_chain(message) == "0x" + expected.hex()
