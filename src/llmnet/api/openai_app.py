"""The coordinator's HTTP service: an OpenAI-compatible API over the whole network.

    POST /v1/chat/completions   (streaming and not; model "llmnet/auto" or "llmnet/<domain>")
    GET  /v1/models             llmnet/auto and llmnet/<domain> for every domain with providers
    GET  /tasks/{task_key}      a task's receipt and how far its settlement got (its requester's key only)
    GET  /v1/auth/nonce, POST /v1/auth/login   an API key for whoever signs in with its account (llmnet.api.auth)
    GET  /ui                    the web dashboard (see llmnet.web.dashboard)
    GET  /health

Requests authenticate with ``Authorization: Bearer sk-llmnet-…``. Bad input is
refused with an OpenAI-style error body before anything is recorded.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pydantic_core
from fastapi import FastAPI, Header, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import Field

from llmnet.api.auth import LoginDesk, install_auth
from llmnet.api.errors import install_error_handlers, parse_json, sse_error
from llmnet.api.http_client import AiohttpClient, KeepAliveClient
from llmnet.api.keys import KeyBook
from llmnet.api.routes import HotRoute, HotRoutes
from llmnet.api.schema import ChatCompletion, ChatCompletionRequest
from llmnet.defaults import DEFAULT_FEE_PER_RESPONDENT_WEI
from llmnet.errors import InputError, LlmnetError, NotFound, QuotaExceeded
from llmnet.questions import Question, load_questions, reference_book
from llmnet.reputation.selection import policy_from_name
from llmnet.roles.accountant import run_accountant
from llmnet.roles.admission import ensure_coordinator
from llmnet.roles.common import AccountSpec, ServiceSpec, deployment_dir, ready_to_serve, signing_domain
from llmnet.roles.coordinator import Coordinator, CoordinatorSettings, TaskRun, new_task_key
from llmnet.roles.directory import Directory
from llmnet.roles.judge import ReferenceJudge
from llmnet.roles.outcome import TaskRecord
from llmnet.roles.protocol import Message
from llmnet.roles.receipt import receipt_of
from llmnet.roles.streaming import stream, synthesize
from llmnet.roles.taskbook import TaskBook
from llmnet.store import ContentStore
from llmnet.types import ETHER
from llmnet.web.dashboard import Dashboard, install_dashboard

AUTO = "llmnet/auto"


class CoordinatorSpec(ServiceSpec, CoordinatorSettings):
    """A coordinator's config file: its service, and its task settings (k, rounds, final,
    max_tokens, the peers' deadlines and cool-downs) with their defaults from CoordinatorSettings."""

    policy: str = "thompson"
    # the validator base URLs to ask; empty: every validator in good standing on chain
    validators: list[str] = Field(default_factory=list)
    ask_validators: bool = True  # False: no validator is asked to rate (they only settle)
    settler_url: str | None = None  # None: a settler the escrow lists (see llmnet.roles.admission)
    stake_wei: int = ETHER  # staked in the validator book as a coordinator when it first starts
    fee_per_respondent_wei: int = DEFAULT_FEE_PER_RESPONDENT_WEI
    max_prompt_chars: int = 8000
    knowledge_root: Path | None = None  # local folders per domain for llmnet/auto; else the domains' cards
    references_file: Path | None = None  # question -> reference answer, for validators
    seed: int | None = None
    # share of tasks after which the coordinator runs a hidden gold task of its own: a question
    # from references_file whose answer it knows, sent like any other (validators are not given
    # the reference), so that each validator's trust rests on the truth and not only on consensus
    gold_rate: float = Field(default=0.0, ge=0, le=1)
    # > 0: an answered task is in the write-ahead log before its answer is returned (so no
    # process crash loses it) and fsynced within this many seconds; 0: fsynced before the
    # answer is returned, so not even a power cut loses it (about 1 ms more per answer)
    record_fsync_interval_s: float = Field(default=0.1, ge=0, le=60)
    # the account that pays the gas to relay the dashboard's (/ui) conversations and the rankings each
    # person signs with their own key (rankings are recorded as the signer's, never as this account's)
    ranker: AccountSpec | None = None

    def settings(self) -> CoordinatorSettings:
        return CoordinatorSettings.model_validate(self.model_dump(include=set(CoordinatorSettings.model_fields)))


class Gateway:
    """Request handling between the HTTP layer and the coordinator."""

    def __init__(self, spec: CoordinatorSpec, coordinator: Coordinator, accountant: TaskBook, keys: KeyBook,
                 classifier: Any, references: dict[str, str],
                 golds: list[Question] | None = None) -> None:  # fmt: skip
        self.spec, self.coordinator, self.accountant, self.keys = spec, coordinator, accountant, keys
        self.classifier, self.references = classifier, references
        self.golds = golds or []
        self.gold_rng = random.Random(spec.seed)
        self.gold_tasks: set[asyncio.Task[None]] = set()
        self.gold_runs = 0
        self.gold_error: str | None = None

    def after_task(self) -> None:
        """Called after each requester's task: now and then, start a gold task."""
        if self.golds and self.spec.gold_rate > 0 and self.gold_rng.random() < self.spec.gold_rate:
            task = asyncio.get_running_loop().create_task(self.run_gold(self.gold_rng.choice(self.golds)))
            self.gold_tasks.add(task)
            task.add_done_callback(self.gold_tasks.discard)

    async def run_gold(self, gold: Question) -> None:
        """A task paid by the coordinator itself, indistinguishable from a requester's to respondents
        and validators; its receipt carries each answer's true score for the settler."""
        me = self.coordinator.account.address
        served = self.coordinator.directory.served_domains()
        domain = gold.domain if gold.domain in served else ("general" if "general" in served else None)
        if domain is None:
            return
        try:
            self.check_funds(me, self.spec.fee_per_respondent_wei * self.spec.k)
            run = TaskRun(new_task_key(), domain, me, [Message(role="user", content=gold.question)], self.spec.k,
                          self.spec.rounds)  # fmt: skip
            await self.coordinator.run(run, self.spec.max_tokens)
            truth = ReferenceJudge().rate(gold.question, {w: a.text for w, a in run.answers.items()}, gold.reference)
            run.gold = {who: round(score, 2) for who, score in truth.items()}
            await self.finished(run)
            self.gold_runs += 1
        except LlmnetError as exc:
            self.gold_error = f"{type(exc).__name__}: {exc}"

    def domain_of(self, model: str, question: str) -> str:
        directory = self.coordinator.directory
        if model in (AUTO, "auto"):
            served = directory.served_domains()
            if self.classifier is None:
                return "general" if "general" in served else (served[0] if served else "general")
            guess = self.classifier.classify(question).domain
            return guess if guess in served else ("general" if "general" in served else guess)
        domain = model.removeprefix("llmnet/")
        if not model.startswith("llmnet/") or domain not in directory.domains():
            known = [AUTO] + [f"llmnet/{d}" for d in directory.served_domains()]
            raise NotFound(f"model {model!r} does not exist; use one of {known}")
        return domain

    def start(self, req: ChatCompletionRequest, requester: str) -> tuple[TaskRun, int]:
        messages = [Message(role=m.role, content=m.text()) for m in req.messages]
        size = sum(len(m.content) for m in messages)
        if size > self.spec.max_prompt_chars:
            raise InputError(
                f"the prompt is {size} characters; this coordinator accepts at most {self.spec.max_prompt_chars}"
            )
        question = next(m.content for m in reversed(messages) if m.role == "user")
        domain = self.domain_of(req.model, question)
        k = req.llmnet.k or self.spec.k
        rounds = self.spec.rounds if req.llmnet.rounds is None else req.llmnet.rounds
        self.check_funds(requester, self.spec.fee_per_respondent_wei * k)
        run = TaskRun(new_task_key(), domain, requester, messages, k, rounds)
        run.adaptive = self.collaboration(req) == "adaptive"
        run.temperature, run.seed = req.temperature or 0.0, req.seed or 0
        run.reference = self.references.get(question.strip().lower())
        return run, req.max_completion_tokens or req.max_tokens or self.spec.max_tokens

    def collaboration(self, req: ChatCompletionRequest) -> str:
        """The request's own choice; else fixed when it set k or rounds; else the coordinator's."""
        if req.llmnet.collaboration is not None:
            return req.llmnet.collaboration
        if req.llmnet.k is not None or req.llmnet.rounds is not None:
            return "fixed"
        return self.spec.collaboration

    def check_funds(self, requester: str, fee: int) -> None:
        """Refuse, before any work, a request the requester's escrow cannot pay for."""
        available = self.coordinator.directory.funds(requester, self.coordinator.account.address)
        owed = self.accountant.unopened_fees(requester)
        if available - owed < fee:
            raise QuotaExceeded(
                f"account {requester} has {available - owed} wei escrowed for this coordinator beyond tasks "
                f"not yet opened, and this request costs {fee} wei; deposit into the escrow and approve "
                f"{self.coordinator.account.address} (`llmnet escrow deposit` and `llmnet escrow approve`)"
            )

    def finish(self, run: TaskRun) -> dict[str, Any]:
        """Receipt, durable record, and the llmnet block of the response."""
        fee = self.spec.fee_per_respondent_wei * run.fee_units
        ledger = self.coordinator.directory.ledger
        receipt = receipt_of(run, fee, ledger.chain_id, self.coordinator.account.address)
        record = TaskRecord.of(receipt, [a.reply.response for a in run.answers.values()], run.ratings)
        self.accountant.record(run.task_key, len(run.chosen), record)
        # every respondent's final text (its hash is in the receipt), for comparing and ranking them
        answers = {who: a.text for who, a in run.answers.items()}
        return {"task_id": hex(run.task_key), "receipt_hash": record.receipt_hash, "receipt": receipt,
                "answers": answers}  # fmt: skip

    async def finished(self, run: TaskRun) -> dict[str, Any]:
        """:meth:`finish` from the event loop: a commit that waits for an fsync goes to a thread;
        one that only appends to the write-ahead log (about 0.1 ms) is cheaper than the hop."""
        if self.accountant.fsync_interval_s:
            return self.finish(run)
        return await asyncio.to_thread(self.finish, run)

    def usage(self, run: TaskRun) -> dict[str, int]:
        final = run.answers.get(run.final_respondent)
        p = final.reply.response["message"]["prompt_tokens"] if final else 0
        c = final.reply.response["message"]["completion_tokens"] if final else 0
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def completion_body(run: TaskRun, model: str, llmnet: dict[str, Any], usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{run.task_key:032x}",
        "object": "chat.completion",
        "created": int(run.started),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": run.final}, "finish_reason": "stop"}],
        "usage": usage,
        "llmnet": llmnet,
    }


def chunk_body(run: TaskRun, model: str, delta: dict[str, Any], finish: str | None = None) -> str:
    body = {
        "id": f"chatcmpl-{run.task_key:032x}",
        "object": "chat.completion.chunk",
        "created": int(run.started),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


async def stream_events(gw: Gateway, run: TaskRun, model: str, max_tokens: int) -> AsyncIterator[str]:
    yield chunk_body(run, model, {"role": "assistant", "content": ""})
    try:
        if gw.spec.final == "synthesis" and not (run.k == 1 and run.rounds == 0):
            await gw.coordinator.run(run, max_tokens)
            if len(run.answers) > 1:
                async for delta in synthesize(gw.coordinator, run, max_tokens):
                    yield chunk_body(run, model, {"content": delta})
            else:
                yield chunk_body(run, model, {"content": run.final})
        else:
            async for delta in stream(gw.coordinator, run, max_tokens):
                yield chunk_body(run, model, {"content": delta})
        llmnet = await gw.finished(run)
        gw.after_task()
    except LlmnetError as exc:
        yield sse_error(exc)
        yield "data: [DONE]\n\n"
        return
    last = json.loads(chunk_body(run, model, {}, "stop")[6:])
    last |= {"usage": gw.usage(run), "llmnet": llmnet}
    yield f"data: {json.dumps(last)}\n\n"
    yield "data: [DONE]\n\n"


def create_coordinator_app(spec: CoordinatorSpec, *, classifier: Any = None) -> HotRoutes:
    account = spec.account.load()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        ledger = spec.chain.ledger()
        state["registration"] = await asyncio.to_thread(ensure_coordinator, ledger, account, spec.url, spec.stake_wei)
        validators = (spec.validators or None) if spec.ask_validators else []
        http = KeepAliveClient(AiohttpClient(limit=200))
        coordinator = Coordinator(Directory(ledger), policy_from_name(spec.policy), account, signing_domain(ledger),
                                  validators, spec.settings(), http, seed=spec.seed)  # fmt: skip
        books = deployment_dir(spec.data_dir, ledger) / f"{spec.name}-tasks.sqlite"
        accountant = TaskBook(books, fsync_interval_s=spec.record_fsync_interval_s)
        spawn = multiprocessing.get_context("spawn")
        ready = spawn.Event()
        keeper = spawn.Process(
            target=run_accountant,
            args=(str(books), spec.chain.model_dump_json(), spec.account.model_dump_json(), spec.settler_url, ready),
            name=f"{spec.name}-accountant",
            daemon=True,
        )
        keeper.start()
        nonlocal classifier
        if classifier is None:  # every domain on chain: its folder under knowledge_root, else its card
            from llmnet.experts.corpus_cache import CorpusCache
            from llmnet.experts.domain_sources import classifier_from_chain

            corpora = CorpusCache(spec.data_dir / "corpora")
            classifier = await asyncio.to_thread(classifier_from_chain, ledger, spec.knowledge_root, corpora)
        directory = coordinator.directory
        await asyncio.to_thread(lambda: [(directory.candidates(d), directory.specialists(d))
                                         for d in directory.domains()])  # warm: ranking reads both  # fmt: skip
        await asyncio.to_thread(lambda: (directory.validator_weights(), directory.validator_addresses()))
        keys = KeyBook(spec.data_dir / "keys.sqlite")
        state["auth"] = LoginDesk(keys, ledger.chain_id, account.address)
        known = load_questions(spec.references_file)
        state["gw"] = Gateway(spec, coordinator, accountant, keys, classifier, reference_book(known), known)
        store = ContentStore(spec.data_dir / "store.sqlite")
        state["ui"] = Dashboard(ledger, accountant, keys, store, spec.ranker.load() if spec.ranker else None)
        # healthy only once the books are kept: the accountant has recovered what a crash left open
        while not await asyncio.to_thread(ready.wait, 1.0):
            if not keeper.is_alive():
                raise RuntimeError(f"the accountant process exited with code {keeper.exitcode} while starting")
        ready_to_serve()
        yield
        keeper.terminate()
        keeper.join(10)
        accountant.close()
        await http.aclose()

    app = FastAPI(title="llmnet coordinator", lifespan=lifespan)
    install_error_handlers(app)
    install_dashboard(app, lambda: state["ui"])
    install_auth(app, lambda: state["auth"])

    @app.get("/health")
    def health() -> dict[str, Any]:
        gw: Gateway = state["gw"]
        return {"role": "coordinator", "address": account.address, "registration": state.get("registration"),
                "tasks": gw.accountant.counts(),
                "last_error": gw.accountant.last_error, "gold_tasks": gw.gold_runs,
                "gold_error": gw.gold_error}  # fmt: skip

    @app.get("/v1/models")
    def models(authorization: str | None = Header(None)) -> dict[str, Any]:
        gw: Gateway = state["gw"]
        gw.keys.account_for(authorization)
        ids = [AUTO] + [f"llmnet/{d}" for d in gw.coordinator.directory.served_domains()]
        created = int(time.time())
        return {"object": "list", "data": [{"id": i, "object": "model", "created": created,
                                            "owned_by": "llmnet"} for i in ids]}  # fmt: skip

    async def chat(request: Request) -> Response:
        # a plain route: the key is checked before the body is read, and the body is parsed
        # once by pydantic-core (FastAPI's dependency machinery would double the cost)
        gw: Gateway = state["gw"]
        requester = gw.keys.account_for(request.headers.get("authorization"))
        req = parse_json(ChatCompletionRequest, await request.body())
        run, max_tokens = gw.start(req, requester)  # CPU only: the directory is warm (see lifespan)
        if req.stream:
            return StreamingResponse(stream_events(gw, run, req.model, max_tokens), media_type="text/event-stream")
        await gw.coordinator.run(run, max_tokens)
        if spec.final == "synthesis" and len(run.answers) > 1:
            run.final = "".join([d async for d in synthesize(gw.coordinator, run, max_tokens)]).strip()
        llmnet = await gw.finished(run)
        gw.after_task()
        body = pydantic_core.to_json(completion_body(run, req.model, llmnet, gw.usage(run)))
        return Response(body, media_type="application/json")

    @app.get("/tasks/{task_key}")
    def task(task_key: str, authorization: str | None = Header(None)) -> dict[str, Any]:
        gw: Gateway = state["gw"]
        result: dict[str, Any] = gw.accountant.task_of(task_key, gw.keys.account_for(authorization))
        return result

    return HotRoutes(app, {"/v1/chat/completions": HotRoute(chat, ChatCompletionRequest, ChatCompletion)})
