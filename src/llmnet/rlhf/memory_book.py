"""The rankings contract (contracts/Rankings.vy) as a plain Python object, for tests and simulations.

It keeps the contract's rules and refuses what the contract refuses, with the same typed errors
and revert strings (tests/conformance/test_rankings_conformance.py holds the two together): one
ranking per (conversation, ranker), revised in place; a signed ranking is its signer's and must
carry the signer's current nonce; every ranking uses up its ranker's nonce.

    >>> book = MemoryRankingBook(chain_id=31337)
    >>> book.conversation_count()
    0
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount

from llmnet.errors import InputError, SignatureError, revert_error
from llmnet.rlhf.book import MAX_RESPONSES, Conversation, Ranking, RankingEvent, ResponseEntry, check_ranks
from llmnet.rlhf.signed import RankingMessage, SignedRanking, ranking_signer, ranking_typed_data
from llmnet.types import TxReceipt, checksum

MAX_RANKERS = 1024
MEMORY_CONTRACT = "0x" + "5a" * 20  # the address the typed data names: the model has no deployment


@dataclass
class MemoryRankingBook:
    """An in-memory rankings contract; each write is a "transaction" in a block of its own."""

    chain_id: int = 31337
    address: str = MEMORY_CONTRACT
    clock: Callable[[], float] = time.time
    conversations: list[Conversation] = field(default_factory=list, init=False)
    _rankings: dict[int, dict[str, Ranking]] = field(default_factory=dict, init=False)  # in order of first submission
    _nonces: dict[str, int] = field(default_factory=dict, init=False)
    _events: list[RankingEvent] = field(default_factory=list, init=False)
    _blocks: itertools.count[int] = field(default_factory=lambda: itertools.count(1), init=False)

    def _receipt(self) -> TxReceipt:
        block = next(self._blocks)
        return TxReceipt(f"0x{block:064x}", block, 0, None)

    def post_conversation(self, prompt_hash: str, domain: str, responses: Sequence[ResponseEntry],
                          sender: LocalAccount) -> tuple[int, TxReceipt]:  # fmt: skip
        if not 2 <= len(responses) <= MAX_RESPONSES:
            raise InputError(f"a conversation holds 2 to {MAX_RESPONSES} responses, got {len(responses)}")
        if len({r.content_hash for r in responses}) < len(responses):
            raise revert_error("duplicate response hash", "posting a conversation")
        for r in responses:
            r.to_chain()  # the contract's argument checks: well-formed hashes and addresses
        cid = len(self.conversations)
        self.conversations.append(Conversation(cid, sender.address, prompt_hash, domain, int(self.clock()),
                                               tuple(responses)))  # fmt: skip
        self._rankings[cid] = {}
        return cid, self._receipt()

    def _check_permutation(self, conversation_id: int, ranks: Sequence[int], context: str) -> None:
        if not 0 <= conversation_id < len(self.conversations):
            raise revert_error("unknown conversation", context)
        n = len(self.conversations[conversation_id].responses)
        if len(ranks) != n:
            raise revert_error("ranking length differs from the conversation's number of responses", context)
        if any(r >= n for r in ranks):
            raise revert_error("ranking is not a permutation: an index is out of range", context)
        if len(set(ranks)) < n:
            raise revert_error("ranking is not a permutation: an index appears twice", context)

    def _record(self, conversation_id: int, ranker: str, ranks: tuple[int, ...], context: str) -> TxReceipt:
        held = self._rankings[conversation_id]
        previous = held.get(ranker)
        if previous is None and len(held) >= MAX_RANKERS:
            raise revert_error("the conversation holds the most rankers it can", context)
        receipt = self._receipt()
        self._nonces[ranker] = self._nonces.get(ranker, 0) + 1
        revisions = 0 if previous is None else previous.revisions + 1
        held[ranker] = Ranking(conversation_id, ranker, ranks, int(self.clock()), revisions)
        self._events.append(RankingEvent(conversation_id, ranker, ranks, previous is not None, receipt.tx_hash,
                                         receipt.block_number))  # fmt: skip
        return receipt

    def submit_ranking(self, conversation_id: int, ranks: Sequence[int], sender: LocalAccount) -> TxReceipt:
        context = f"ranking conversation {conversation_id} as {list(ranks)}"
        checked = tuple(check_ranks(ranks))
        self._check_permutation(conversation_id, checked, context)
        return self._record(conversation_id, sender.address, checked, context)

    def submit_signed_ranking(self, signed: SignedRanking, sender: LocalAccount) -> TxReceipt:
        m, ranker = signed.message, checksum(signed.ranker, "ranker")
        context = f"relaying {ranker}'s ranking of conversation {m.conversation_id} as {list(m.ranks)}"
        checked = tuple(check_ranks(m.ranks))
        self._check_permutation(m.conversation_id, checked, context)
        if m.nonce != self.nonce(ranker):
            raise revert_error("ranking nonce is not the ranker's current one: sign again", context)
        try:
            signer = ranking_signer(m, signed.signature, chain_id=self.chain_id, contract=self.address)
        except SignatureError:
            signer = ""
        if signer != ranker:
            raise revert_error("ranking signature was not made by the ranker", context)
        return self._record(m.conversation_id, ranker, checked, context)

    def nonce(self, ranker: str) -> int:
        return self._nonces.get(checksum(ranker, "ranker"), 0)

    def ranking_message(self, conversation_id: int, ranks: Sequence[int], ranker: str) -> RankingMessage:
        return RankingMessage(
            conversation_id=conversation_id, ranks=tuple(check_ranks(ranks)), nonce=self.nonce(ranker)
        )

    def typed_data(self, message: RankingMessage) -> dict[str, Any]:
        return ranking_typed_data(message, chain_id=self.chain_id, contract=self.address)

    def conversation_count(self) -> int:
        return len(self.conversations)

    def conversation(self, conversation_id: int) -> Conversation:
        if not 0 <= conversation_id < len(self.conversations):
            raise revert_error("unknown conversation", f"conversation {conversation_id}")
        return self.conversations[conversation_id]

    def ranking(self, conversation_id: int, ranker: str) -> Ranking:
        self.conversation(conversation_id)
        found = self._rankings[conversation_id].get(checksum(ranker, "ranker"))
        if found is None:
            raise revert_error("no ranking by this account for the conversation", f"conversation {conversation_id}")
        return found

    def rankings(self, conversation_id: int) -> list[Ranking]:
        self.conversation(conversation_id)
        return list(self._rankings[conversation_id].values())

    def events(self, from_block: int | None = None, to_block: int | str = "latest") -> list[RankingEvent]:
        last = float("inf") if to_block == "latest" else int(to_block)
        return [e for e in self._events if (from_block or 0) <= e.block_number <= last]
