"""The rankings contract (contracts/Rankings.vy) as typed Python: post conversations, rank, read back.

Reverts arrive as :class:`~llmnet.errors.BadRanking` or :class:`~llmnet.errors.UnknownConversation`
before anything is sent (every write is simulated first).

    >>> book = RankingBook(ledger)                                           # doctest: +SKIP
    >>> cid, _ = book.post_conversation(prompt_hash, "general", entries, me)  # doctest: +SKIP
    >>> book.submit_ranking(cid, [1, 0], me)                                 # doctest: +SKIP

A ranking can also be signed by its ranker and sent by someone else (:meth:`RankingBook.submit_signed_ranking`,
see :mod:`llmnet.rlhf.signed`). :class:`RankingReader` is what reading rankings needs, so the
in-memory model (:mod:`llmnet.rlhf.memory_book`) can stand in for the contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from web3 import Web3
from web3.logs import DISCARD

from llmnet.chain.artifacts import load_artifact
from llmnet.chain.ledger import Account
from llmnet.chain.transactions import read, translate
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import InputError, NotDeployed
from llmnet.rlhf.signed import RankingMessage, SignedRanking, ranking_typed_data
from llmnet.types import TxReceipt, check_hash, checksum

MAX_RESPONSES = 16


@dataclass(frozen=True)
class ResponseEntry:
    """One response of a conversation: its text's hash, who wrote it and with which model."""

    content_hash: str
    respondent: str
    model_id: str
    model_version: str
    licence: str

    def to_chain(self) -> tuple[Any, ...]:
        h = bytes.fromhex(check_hash(self.content_hash, "response hash")[2:])
        return (h, checksum(self.respondent, "respondent"), self.model_id, self.model_version, self.licence)


@dataclass(frozen=True)
class Conversation:
    conversation_id: int
    author: str
    prompt_hash: str
    domain: str
    created_at: int
    responses: tuple[ResponseEntry, ...]


@dataclass(frozen=True)
class Ranking:
    """``ranks[k]`` is the index of the response placed k-th (0 = preferred)."""

    conversation_id: int
    ranker: str
    ranks: tuple[int, ...]
    ranked_at: int
    revisions: int


@dataclass(frozen=True)
class RankingEvent:
    """A submission or revision as logged on chain, with the transaction that made it."""

    conversation_id: int
    ranker: str
    ranks: tuple[int, ...]
    revised: bool
    tx_hash: str
    block_number: int


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def check_ranks(ranks: Sequence[int]) -> list[int]:
    """The ranks as plain ints, or InputError if they cannot even be encoded (the contract checks
    that they are a permutation of the right length)."""
    if not isinstance(ranks, Sequence) or isinstance(ranks, str | bytes):
        raise InputError(f"a ranking is a list of response indices, got {ranks!r}")
    if not all(isinstance(r, int) and not isinstance(r, bool) and 0 <= r < MAX_RESPONSES for r in ranks):
        raise InputError(f"ranking {list(ranks)!r} must hold response indices from 0 to {MAX_RESPONSES - 1}")
    return [int(r) for r in ranks]


class RankingReader(Protocol):
    """What exports and feeds read: the contract through :class:`RankingBook`, or its in-memory model."""

    @property
    def address(self) -> str: ...

    @property
    def chain_id(self) -> int: ...

    def conversation_count(self) -> int: ...

    def conversation(self, conversation_id: int) -> Conversation: ...

    def rankings(self, conversation_id: int) -> list[Ranking]: ...

    def events(self, from_block: int | None = None, to_block: int | str = "latest") -> list[RankingEvent]: ...


class RankingBook:
    """Client of the deployment's rankings contract; shares the ledger's node and nonce tracking."""

    def __init__(self, ledger: Web3Ledger) -> None:
        self.ledger = ledger
        address = getattr(ledger.deployment, "rankings", "")
        if not address:
            raise NotDeployed("this deployment has no rankings contract; redeploy with `llmnet chain deploy --force`")
        self.contract: Any = ledger.w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=load_artifact("Rankings")["abi"]
        )

    @property
    def address(self) -> str:
        return str(self.contract.address)

    @property
    def chain_id(self) -> int:
        return self.ledger.chain_id

    def _call(self, fn: Any, context: str = "") -> Any:
        return read(fn, context)

    def post_conversation(
        self, prompt_hash: str, domain: str, responses: Sequence[ResponseEntry], sender: Account
    ) -> tuple[int, TxReceipt]:
        """Record a prompt and its responses; returns the conversation id and the receipt."""
        if not 2 <= len(responses) <= MAX_RESPONSES:
            raise InputError(f"a conversation holds 2 to {MAX_RESPONSES} responses, got {len(responses)}")
        args = (bytes.fromhex(check_hash(prompt_hash, "prompt hash")[2:]), domain, [r.to_chain() for r in responses])
        fn = self.contract.functions.post_conversation(*args)
        mined = self.ledger.tx.send(fn, sender, context=f"posting a conversation of {len(responses)} responses")
        logs = self.contract.events.ConversationPosted().process_receipt({"logs": mined.logs}, errors=DISCARD)
        receipt = TxReceipt(mined.tx_hash, mined.block_number, mined.gas_used, None)
        return int(logs[0]["args"]["conversation_id"]), receipt

    def submit_ranking(self, conversation_id: int, ranks: Sequence[int], sender: Account) -> TxReceipt:
        """Submit (or revise) ``sender``'s ranking of a conversation, best response first."""
        fn = self.contract.functions.submit_ranking(int(conversation_id), check_ranks(ranks))
        context = f"ranking conversation {conversation_id} as {list(ranks)}"
        mined = self.ledger.tx.send(fn, sender, context=context)
        return TxReceipt(mined.tx_hash, mined.block_number, mined.gas_used, None)

    def nonce(self, ranker: str) -> int:
        """How many rankings ``ranker`` has made: the nonce its next signed ranking must carry."""
        return int(self._call(self.contract.functions.ranking_nonce(checksum(ranker, "ranker"))))

    def ranking_message(self, conversation_id: int, ranks: Sequence[int], ranker: str) -> RankingMessage:
        """What ``ranker`` signs to rank the conversation now (with its current nonce)."""
        return RankingMessage(
            conversation_id=conversation_id, ranks=tuple(check_ranks(ranks)), nonce=self.nonce(ranker)
        )

    def typed_data(self, message: RankingMessage) -> dict[str, Any]:
        return ranking_typed_data(message, chain_id=self.chain_id, contract=self.address)

    def digest_on_chain(self, message: RankingMessage) -> str:
        """The digest the contract checks signatures against (to hold the Python encoder to it)."""
        fn = self.contract.functions.ranking_digest(message.conversation_id, list(message.ranks), message.nonce)
        return _hex(self._call(fn, "the ranking digest"))

    def submit_signed_ranking(self, signed: SignedRanking, sender: Account) -> TxReceipt:
        """Send a ranking signed by ``signed.ranker`` from ``sender``'s account (which pays the gas)."""
        m = signed.message
        fn = self.contract.functions.submit_signed_ranking(
            checksum(signed.ranker, "ranker"), m.conversation_id, check_ranks(m.ranks), m.nonce,
            bytes.fromhex(signed.signature.removeprefix("0x")),
        )  # fmt: skip
        context = f"relaying {signed.ranker}'s ranking of conversation {m.conversation_id} as {list(m.ranks)}"
        mined = self.ledger.tx.send(fn, sender, context=context)
        return TxReceipt(mined.tx_hash, mined.block_number, mined.gas_used, None)

    def conversation_count(self) -> int:
        return int(self._call(self.contract.functions.conversation_count()))

    def conversation(self, conversation_id: int) -> Conversation:
        fn = self.contract.functions.get_conversation(int(conversation_id))
        author, prompt_hash, domain, created_at, rows = self._call(fn, f"conversation {conversation_id}")
        entries = tuple(ResponseEntry(_hex(row[0]), *row[1:]) for row in rows)
        return Conversation(conversation_id, author, _hex(prompt_hash), domain, created_at, entries)

    def ranking(self, conversation_id: int, ranker: str) -> Ranking:
        fn = self.contract.functions.get_ranking(int(conversation_id), checksum(ranker, "ranker"))
        return self._ranking(conversation_id, self._call(fn, f"conversation {conversation_id} by {ranker}"))

    def rankings(self, conversation_id: int) -> list[Ranking]:
        """Every account's current ranking of a conversation, in order of first submission."""
        found: list[Ranking] = []
        while True:
            fn = self.contract.functions.get_rankings(int(conversation_id), len(found), 64)
            page = self._call(fn, f"conversation {conversation_id}")
            found += [self._ranking(conversation_id, row) for row in page]
            if len(page) < 64:
                return found

    @staticmethod
    def _ranking(conversation_id: int, row: Sequence[Any]) -> Ranking:
        ranker, ranks, ranked_at, revisions = row
        return Ranking(conversation_id, ranker, tuple(int(r) for r in ranks), int(ranked_at), int(revisions))

    def events(self, from_block: int | None = None, to_block: int | str = "latest") -> list[RankingEvent]:
        """Submissions and revisions logged between the blocks, in chain order."""
        start = self.ledger.deployment.block_number if from_block is None else from_block
        found = []
        for name, revised in (("RankingSubmitted", False), ("RankingRevised", True)):
            try:
                logs = getattr(self.contract.events, name)().get_logs(from_block=start, to_block=to_block)
            except Exception as exc:
                raise translate(exc, f"reading {name} events") from None
            found += [(log["blockNumber"], log["logIndex"], self._event(log, revised)) for log in logs]
        return [event for _, _, event in sorted(found, key=lambda item: (item[0], item[1]))]

    @staticmethod
    def _event(log: Any, revised: bool) -> RankingEvent:
        args = log["args"]
        return RankingEvent(
            conversation_id=int(args["conversation_id"]), ranker=str(args["ranker"]),
            ranks=tuple(int(r) for r in args["ranks"]), revised=revised,
            tx_hash=log["transactionHash"].to_0x_hex(), block_number=int(log["blockNumber"]),
        )  # fmt: skip
