"""The coordinator's web dashboard at ``/ui``: static page and assets (no CDN) and the JSON it reads.

    GET  /ui                               the page
    GET  /ui/static/{file}                 its script and style
    GET  /ui/api/providers                 providers, stake, per-domain reputation
    GET  /ui/api/reputation                reputation over time, per (provider, domain)
    GET  /ui/api/ledger                    the key's recent tasks; settled batches, recent transactions
    GET  /ui/api/tasks/{task_key}/proof    a settled receipt's Merkle proof, checked on chain  (Bearer key)
    POST /ui/api/conversations             post an answered task's responses for ranking   (Bearer key)
    GET  /ui/api/conversations/{id}        a conversation, its texts and its rankings
    POST /ui/api/conversations/{id}/ranking-request  what the key's account signs to rank  (Bearer key)
    POST /ui/api/conversations/{id}/ranking  relay the signed ranking to the chain          (Bearer key)
    GET  /ui/api/texts/{hash}              a text of a conversation on chain (see web/texts.py)
    PUT  /ui/api/texts                     upload texts of conversations on chain          (Bearer key)
    GET  /ui/api/dataset?format=…          the rankings as a dataset (see web/download.py)

Asking goes through the OpenAI-compatible ``/v1/chat/completions`` (streamed), like any client.
A requester's tasks are shown only to its own key; what is public on chain (batches, transactions,
providers, reputation) is shown to anyone.

Each person ranks as themselves: their API key names their account, their wallet signs the
ranking (EIP-712, see :mod:`llmnet.rlhf.signed`) and the coordinator relays it; the contract
checks the signature, so the ranking is the signer's on chain, whoever paid the gas. Two people
ranking one conversation both count; ranking it again replaces only one's own ranking.
Chain writes cost gas, so they need a requester key; they are sent from the coordinator's
``ranker`` (relayer) account, never from the coordinator's own (its accountant process owns that nonce).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, TypeVar

from eth_account.signers.local import LocalAccount
from fastapi import APIRouter, FastAPI, Header, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from llmnet.api.keys import KeyBook
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import ChainError, ConfigError, InputError, NotFound, SignatureError
from llmnet.rlhf.book import MAX_RESPONSES, RankingBook
from llmnet.rlhf.flow import candidates_from_answer, post_candidates
from llmnet.rlhf.records import RecordFilter, licence_set, parse_day
from llmnet.rlhf.signed import RankingMessage, SignedRanking, ranking_signer
from llmnet.rlhf.texts import StoredTexts
from llmnet.roles.taskbook import TaskBook
from llmnet.store import ContentStore
from llmnet.web.download import MEDIA_TYPES, dataset_download
from llmnet.web.explorer import LedgerExplorer
from llmnet.web.texts import ConversationTexts, TextUpload, UploadResult

STATIC = Path(__file__).parent / "static"
T = TypeVar("T")
# the rankings contract numbers conversations with a uint256 from 0
ConversationId = Annotated[int, PathParam(ge=0, lt=2**256, description="a conversation id")]


class ConversationRequest(BaseModel):
    task_id: str = Field(description="the task key the answer came with (llmnet.task_id)")
    prompt: str = Field(min_length=1, max_length=8000)
    answers: dict[str, str] = Field(description="respondent address -> its answer, as returned")


class RankingRequest(BaseModel):
    ranks: list[Annotated[int, Field(ge=0, lt=MAX_RESPONSES)]] = Field(
        min_length=1, max_length=MAX_RESPONSES, description="response indices, best first"
    )
    # the ranker's EIP-712 signature of (conversation, ranks, nonce), as ranking-request gave them
    nonce: int | None = Field(default=None, ge=0, lt=2**256)
    signature: str | None = Field(default=None, description="0x + 130 hex digits, from the ranker's wallet")


class Dashboard:
    def __init__(self, ledger: Web3Ledger, tasks: TaskBook, keys: KeyBook, store: ContentStore,
                 relayer: LocalAccount | None) -> None:  # fmt: skip
        self.ledger, self.tasks, self.keys, self.store, self.relayer = ledger, tasks, keys, store, relayer
        self.explorer = LedgerExplorer(ledger)
        self.book = RankingBook(ledger)
        self.texts = ConversationTexts(self.book, store)

    def _writer(self, authorization: str | None) -> tuple[LocalAccount, str]:
        """The account that sends (and pays for) the transaction, and the requester the key belongs to."""
        requester = self.keys.account_for(authorization)
        if self.relayer is None:
            raise ConfigError("this coordinator has no relayer account; set `ranker` in its spec to rank here")
        return self.relayer, requester

    def post(self, authorization: str | None, req: ConversationRequest) -> dict[str, Any]:
        me, requester = self._writer(authorization)
        task = self.tasks.task(req.task_id)
        if task["receipt"]["requester"].lower() != requester.lower():
            raise NotFound(f"no task {req.task_id} of yours at this coordinator; post the answers you were given")
        found = candidates_from_answer({"receipt": task["receipt"], "answers": req.answers}, self.ledger.get_provider)
        domain = task["receipt"]["domain"]
        cid, tx = _relayed(lambda: post_candidates(self.book, self.store, req.prompt, domain, found, me))
        return self.conversation(cid) | {"tx_hash": tx}

    def _message(self, cid: int, req: RankingRequest, ranker: str) -> RankingMessage:
        n = len(self.book.conversation(cid).responses)
        if sorted(req.ranks) != list(range(n)):
            raise InputError(f"ranking {req.ranks} is not a permutation of conversation {cid}'s {n} responses: "
                             f"list each of 0..{n - 1} once, best first")  # fmt: skip
        if req.nonce is None:
            return self.book.ranking_message(cid, req.ranks, ranker)
        return RankingMessage(conversation_id=cid, ranks=tuple(req.ranks), nonce=req.nonce)

    def ranking_request(self, authorization: str | None, cid: int, req: RankingRequest) -> dict[str, Any]:
        """The typed data the key's account signs (``eth_signTypedData_v4``) to rank the conversation so."""
        ranker = self.keys.account_for(authorization)
        message = self._message(cid, req, ranker)
        return {"ranker": ranker, "nonce": message.nonce, "typed_data": self.book.typed_data(message)}

    def rank(self, authorization: str | None, cid: int, req: RankingRequest) -> dict[str, Any]:
        me, ranker = self._writer(authorization)
        message = self._message(cid, req, ranker)
        if req.signature is None or req.nonce is None:
            raise InputError(f"sign the ranking as {ranker}: POST /ui/api/conversations/{cid}/ranking-request "
                             "gives the typed data to sign; send its nonce and your signature")  # fmt: skip
        signer = ranking_signer(message, req.signature, chain_id=self.ledger.chain_id, contract=self.book.address)
        if signer != ranker:
            raise SignatureError(f"the ranking is signed by {signer} but this API key belongs to {ranker}; "
                                 f"sign it with {ranker}'s wallet, or use that account's own key")  # fmt: skip
        signed = SignedRanking(message=message, ranker=ranker, signature=req.signature)
        receipt = _relayed(lambda: self.book.submit_signed_ranking(signed, me))
        return {"tx_hash": receipt.tx_hash, "block": receipt.block_number, "relayer": me.address,
                "ranking": asdict(self.book.ranking(cid, ranker))}  # fmt: skip

    def upload(self, authorization: str | None, req: TextUpload) -> UploadResult:
        self.keys.account_for(authorization)
        return self.texts.upload(req)

    def download(self, fmt: str, wanted: RecordFilter) -> Response:
        got = dataset_download(self.book, StoredTexts([self.store]), fmt, wanted)
        return Response(got.body, media_type=MEDIA_TYPES[fmt], headers=got.headers())

    def conversation(self, cid: int) -> dict[str, Any]:
        c = self.book.conversation(cid)
        responses = [asdict(r) | {"text": self.store.get_text(r.content_hash) if self.store.has(r.content_hash)
                                  else None} for r in c.responses]  # fmt: skip
        prompt = self.store.get_text(c.prompt_hash) if self.store.has(c.prompt_hash) else None
        return {"conversation_id": cid, "author": c.author, "domain": c.domain, "prompt": prompt,
                "responses": responses, "rankings": [asdict(r) for r in self.book.rankings(cid)],
                "contract": self.book.address, "chain_id": self.ledger.chain_id}  # fmt: skip

    def ledger_view(self, authorization: str | None) -> dict[str, Any]:
        """Public chain data, and the tasks of the key's requester (none without a key)."""
        mine = self.tasks.recent(self.keys.account_for(authorization), 20) if authorization else []
        x = self.explorer
        return {"chain_id": self.ledger.chain_id, "tasks": mine, "batches": x.batches(),
                "transactions": x.transactions(), "conversations": self.book.conversation_count()}  # fmt: skip

    def proof(self, authorization: str | None, task_key: str) -> dict[str, Any]:
        self.tasks.task_of(task_key, self.keys.account_for(authorization))
        return self.explorer.receipt_proof(self.tasks, task_key)


def _relayed(send: Callable[[], T]) -> T:
    """Send from the relayer; once more if its nonce moved under the coordinator's count (the relayer's
    account may also send on its own: under `llmnet up` it is the demo requester, which `llmnet rank`
    uses). The refused submission made the sender forget the stale nonce, and nothing was sent."""
    try:
        return send()
    except ChainError as exc:
        if "nonce too low" not in str(exc):
            raise
        return send()


def _checked_ranks(req: RankingRequest) -> RankingRequest:
    if not req.ranks:
        raise InputError("a ranking lists the response indices, best first")
    return req


def dashboard_router(dashboard: Callable[[], Dashboard]) -> APIRouter:
    """The routes, reading the dashboard built at start-up through ``dashboard``."""
    router = APIRouter(prefix="/ui")

    @router.get("", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @router.get("/api/providers")
    def providers() -> list[dict[str, Any]]:
        return dashboard().explorer.providers()

    @router.get("/api/reputation")
    def reputation() -> list[dict[str, Any]]:
        return dashboard().explorer.reputation_history()

    @router.get("/api/ledger")
    def ledger(authorization: str | None = Header(None)) -> dict[str, Any]:
        return dashboard().ledger_view(authorization)

    @router.get("/api/tasks/{task_key}/proof")
    def proof(task_key: str, authorization: str | None = Header(None)) -> dict[str, Any]:
        return dashboard().proof(authorization, task_key)

    @router.post("/api/conversations")
    def post(req: ConversationRequest, authorization: str | None = Header(None)) -> dict[str, Any]:
        return dashboard().post(authorization, req)

    @router.get("/api/conversations/{cid}")
    def conversation(cid: ConversationId) -> dict[str, Any]:
        return dashboard().conversation(cid)

    @router.post("/api/conversations/{cid}/ranking-request")
    def ranking_request(
        cid: ConversationId, req: RankingRequest, authorization: str | None = Header(None)
    ) -> dict[str, Any]:
        return dashboard().ranking_request(authorization, cid, _checked_ranks(req))

    @router.post("/api/conversations/{cid}/ranking")
    def rank(cid: ConversationId, req: RankingRequest, authorization: str | None = Header(None)) -> dict[str, Any]:
        return dashboard().rank(authorization, cid, _checked_ranks(req))

    @router.get("/api/texts/{content_hash}", response_class=PlainTextResponse)
    def text(content_hash: str) -> str:
        return dashboard().texts.text(content_hash)

    @router.put("/api/texts")
    def upload(req: TextUpload, authorization: str | None = Header(None)) -> UploadResult:
        return dashboard().upload(authorization, req)

    @router.get("/api/dataset")
    def dataset(
        fmt: Annotated[str, Query(alias="format")] = "dpo-jsonl",
        licence: Annotated[list[str] | None, Query()] = None,
        permissive: bool = False,
        since: str | None = None,
        until: str | None = None,
        min_agreement: Annotated[float | None, Query(ge=-1, le=1)] = None,
    ) -> Response:
        wanted = RecordFilter(licence_set(licence, permissive), parse_day(since), parse_day(until, end=True),
                              min_agreement)  # fmt: skip
        return dashboard().download(fmt, wanted)

    return router


def install_dashboard(app: FastAPI, dashboard: Callable[[], Dashboard]) -> None:
    app.include_router(dashboard_router(dashboard))
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
