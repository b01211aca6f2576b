"""The coordinator's web dashboard at ``/ui``: static page and assets (no CDN) and the JSON it reads.

    GET  /ui                               the page
    GET  /ui/static/{file}                 its script and style
    GET  /ui/api/providers                 providers, stake, per-domain reputation
    GET  /ui/api/reputation                reputation over time, per (provider, domain)
    GET  /ui/api/ledger                    the key's recent tasks; settled batches, recent transactions
    GET  /ui/api/tasks/{task_key}/proof    a settled receipt's Merkle proof, checked on chain  (Bearer key)
    POST /ui/api/conversations             post an answered task's responses for ranking   (Bearer key)
    GET  /ui/api/conversations/{id}        a conversation, its texts and its rankings
    POST /ui/api/conversations/{id}/ranking  submit or revise the ranking                  (Bearer key)

Asking goes through the OpenAI-compatible ``/v1/chat/completions`` (streamed), like any client.
A requester's tasks are shown only to its own key; what is public on chain (batches, transactions,
providers, reputation) is shown to anyone.
Chain writes cost gas, so they need a requester key; they are sent from the coordinator's
``ranker`` account, never from the coordinator's own (its accountant process owns that nonce).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from eth_account.signers.local import LocalAccount
from fastapi import APIRouter, FastAPI, Header
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from llmnet.api.keys import KeyBook
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import ConfigError, InputError, NotFound
from llmnet.rlhf.book import MAX_RESPONSES, RankingBook
from llmnet.rlhf.flow import candidates_from_answer, post_candidates
from llmnet.roles.taskbook import TaskBook
from llmnet.store import ContentStore
from llmnet.web.explorer import LedgerExplorer

STATIC = Path(__file__).parent / "static"
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


class Dashboard:
    def __init__(self, ledger: Web3Ledger, tasks: TaskBook, keys: KeyBook, store: ContentStore,
                 ranker: LocalAccount | None) -> None:  # fmt: skip
        self.ledger, self.tasks, self.keys, self.store, self.ranker = ledger, tasks, keys, store, ranker
        self.explorer = LedgerExplorer(ledger)
        self.book = RankingBook(ledger)

    def _writer(self, authorization: str | None) -> tuple[LocalAccount, str]:
        """The account that writes, and the requester the key belongs to."""
        requester = self.keys.account_for(authorization)
        if self.ranker is None:
            raise ConfigError("this coordinator has no ranker account; set `ranker` in its spec to rank here")
        return self.ranker, requester

    def post(self, authorization: str | None, req: ConversationRequest) -> dict[str, Any]:
        me, requester = self._writer(authorization)
        task = self.tasks.task(req.task_id)
        if task["receipt"]["requester"].lower() != requester.lower():
            raise NotFound(f"no task {req.task_id} of yours at this coordinator; post the answers you were given")
        found = candidates_from_answer({"receipt": task["receipt"], "answers": req.answers}, self.ledger.get_provider)
        domain = task["receipt"]["domain"]
        cid, tx = post_candidates(self.book, self.store, req.prompt, domain, found, me)
        return self.conversation(cid) | {"tx_hash": tx}

    def rank(self, authorization: str | None, cid: int, req: RankingRequest) -> dict[str, Any]:
        me, _ = self._writer(authorization)
        receipt = self.book.submit_ranking(cid, req.ranks, me)
        return {"tx_hash": receipt.tx_hash, "block": receipt.block_number,
                "ranking": asdict(self.book.ranking(cid, me.address))}  # fmt: skip

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

    @router.post("/api/conversations/{cid}/ranking")
    def rank(cid: ConversationId, req: RankingRequest, authorization: str | None = Header(None)) -> dict[str, Any]:
        return dashboard().rank(authorization, cid, _checked_ranks(req))

    return router


def install_dashboard(app: FastAPI, dashboard: Callable[[], Dashboard]) -> None:
    app.include_router(dashboard_router(dashboard))
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
