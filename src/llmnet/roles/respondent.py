"""A respondent: an LLM (or an expert = LLM + knowledge folder) selling answers.

On start it registers itself on chain (or checks and updates its
registration). It answers only assignments signed by a coordinator in good standing on
chain (see :mod:`llmnet.roles.admission`; ``trusted_coordinators`` restricts that),
addressed to it, before their deadline, whose content hash matches the
payload, and each assignment only once (a replayed one is refused); each
answer comes back signed, with token usage and model identity.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_account.signers.local import LocalAccount
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.responses import Response as HTTPResponse
from pydantic import BaseModel, Field

from llmnet.api.errors import install_error_handlers, parse_json, sse_error
from llmnet.api.routes import HotRoute, HotRoutes
from llmnet.backends import create_backend
from llmnet.backends.base import Backend, Chunk, Usage
from llmnet.chain.ledger import Ledger
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import CorpusError, InputError, LlmnetError, NotFound, SignatureError
from llmnet.roles.admission import Coordinators, as_coordinators, on_chain
from llmnet.roles.common import ServiceSpec, ready_to_serve, signing_domain, verified
from llmnet.roles.knowledge_growth import expert_version, grown_profile, keep_earlier, watch_knowledge
from llmnet.roles.protocol import RespondReply, RespondRequest
from llmnet.roles.replay import MAX_DEADLINE_AHEAD_S, ReplayGuard
from llmnet.signing import Response, SignedMessage, SigningDomain, TaskAssignment, sign, typed_data_hash
from llmnet.store import content_hash
from llmnet.types import ETHER, ZERO_HASH, ProviderProfile

if TYPE_CHECKING:
    from llmnet.experts.growing import KnowledgeChange

log = logging.getLogger(__name__)
RUNTIME_MARKS = ("@transformers", ":completion")


class BackendSpec(BaseModel):
    kind: str = "llamacpp"
    options: dict[str, Any] = Field(default_factory=dict)
    knowledge: Path | None = None  # a folder of documents makes this respondent an expert
    model_id: str | None = None  # registered and signed instead of the backend's own (its mode suffix is kept)
    expert: Path | None = None  # the trained expert's manifest (expert.json), served at GET /v1/expert

    def build(self) -> Backend:
        inner = create_backend(self.kind, **self.options)
        if self.model_id:  # the runtime and mode marks stay: they tell validators how to re-run answers
            inner.model_id = self.model_id + "".join(m for m in RUNTIME_MARKS if m in inner.model_id)
        if self.knowledge is None:
            return inner
        from llmnet.experts.expert import ExpertBackend
        from llmnet.experts.knowledge import KnowledgeBase

        return ExpertBackend(inner, KnowledgeBase.from_folder(self.knowledge))


class RespondentSpec(ServiceSpec):
    backend: BackendSpec = Field(default_factory=BackendSpec)
    domains: list[str]
    stake_wei: int = ETHER
    licence: str = ""
    model_version: str = ""
    trusted_coordinators: list[str] = Field(default_factory=list)
    # an assignment due further ahead than this is refused (it bounds the replay memory)
    max_deadline_ahead_s: float = Field(default=MAX_DEADLINE_AHEAD_S, gt=0, le=86_400)


def served_corpus(knowledge: Path | None) -> tuple[str, bytes] | None:
    """The hash and packed JSON of the knowledge folder this respondent serves, if it can be packed."""
    if knowledge is None:
        return None
    from llmnet.experts.corpus import pack

    try:
        packed = pack(knowledge)
    except CorpusError as exc:
        log.warning("the knowledge folder %s is not served as a corpus: %s", knowledge, exc)
        return None
    return packed.manifest.corpus_hash(), packed.model_dump_json().encode()


def expert_digest(manifest: bytes | None) -> str | None:
    """The digest of the trained expert's manifest (what ``llmnet expert register`` records), if any."""
    if manifest is None:
        return None
    from llmnet.tuning.manifest import ExpertManifest

    return ExpertManifest.model_validate_json(manifest).digest()


def ensure_registered(ledger: Ledger, account: LocalAccount, profile: ProviderProfile, stake: int) -> str:
    """Register, or bring an existing registration up to date; returns what was done."""
    if not ledger.is_registered(account.address):
        ledger.register_provider(profile, stake, account)
        return "registered"
    if ledger.get_provider(account.address).profile != profile:
        ledger.update_provider(profile, account)
        return "updated"
    return "unchanged"


class Respondent:
    """The respondent's logic, independent of HTTP."""

    def __init__(self, backend: Backend, account: LocalAccount, domain: SigningDomain,
                 trusted: Coordinators | Iterable[str], replays: ReplayGuard | None = None) -> None:  # fmt: skip
        self.backend = backend
        self.account = account
        self.domain = domain
        self.coordinators = as_coordinators(trusted)
        self.replays = replays or ReplayGuard()

    def check(self, req: RespondRequest) -> TaskAssignment:
        signed = verified(req.assignment, TaskAssignment, self.domain)
        self.coordinators.require(signed.signer, "task assignment")
        a = signed.message
        if a.respondent != self.account.address:
            raise SignatureError(f"assignment is addressed to {a.respondent}, not to this respondent")
        self.replays.check(a.deadline)
        if req.payload.digest() != a.content_hash:
            raise InputError("payload does not match the assignment's content hash")
        self.replays.admit(typed_data_hash(a, self.domain), a.deadline)  # last: every other check passed
        return a

    def _signed(self, a: TaskAssignment, text: str, usage: Usage) -> SignedMessage[Response]:
        message = Response(
            task_id=a.task_id,
            respondent=self.account.address,
            content_hash=content_hash(text.encode()),
            model_id=self.backend.model_id,
            weights_hash=("0x" + self.backend.weights_sha256) if self.backend.weights_sha256 else ZERO_HASH,
            round=a.round,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            request_hash=a.content_hash,
        )
        return sign(message, self.account, self.domain)

    def _generate(self, req: RespondRequest) -> tuple[list[str], Iterator[Chunk]]:
        request = req.payload.generation_request()
        stream_with_sources = getattr(self.backend, "stream", None)
        if stream_with_sources is not None:
            passages, chunks = stream_with_sources(request)
            return [p.id for p in passages], chunks
        return [], self.backend.generate(request)

    def respond(self, req: RespondRequest) -> RespondReply:
        started = time.perf_counter()
        a = self.check(req)
        sources, chunks = self._generate(req)
        parts, last = [], Chunk("")
        for chunk in chunks:
            parts.append(chunk.text)
            last = chunk
        text = "".join(parts).strip()
        usage = last.usage or Usage(0, 0)
        signed = self._signed(a, text, usage)
        return RespondReply(
            response=signed.to_dict(), text=text, sources=sources, latency_s=time.perf_counter() - started
        )

    def stream(self, req: RespondRequest, a: TaskAssignment) -> Iterator[str]:
        """Server-sent events: text deltas, then one event with the signed response.

        ``a`` is the assignment ``check(req)`` returned, checked before the stream starts so a
        refusal still gets its own status code."""
        sources, chunks = self._generate(req)
        parts, usage = [], Usage(0, 0)
        try:
            for chunk in chunks:
                parts.append(chunk.text)
                usage = chunk.usage or usage
                if chunk.text:
                    yield f"data: {json.dumps({'delta': chunk.text})}\n\n"
        except LlmnetError as exc:
            yield sse_error(exc)
            return
        text = "".join(parts).strip()
        final = {"response": self._signed(a, text, usage).to_dict(), "text": text, "sources": sources}
        yield f"data: {json.dumps(final)}\n\n"


def create_respondent_app(
    spec: RespondentSpec,
    *,
    backend: Backend | None = None,
    ledger: Web3Ledger | None = None,
    account: LocalAccount | None = None,
) -> HotRoutes:
    """The respondent's HTTP service; ``backend``, ``ledger``, ``account`` may be injected for tests."""
    account = account or spec.account.load()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        chain = ledger or spec.chain.ledger()
        model = backend or spec.backend.build()
        state["corpus"], state["earlier_corpora"] = served_corpus(spec.backend.knowledge), {}
        profile = ProviderProfile(
            endpoint=spec.url,
            domains=tuple(spec.domains),
            model_id=model.model_id,
            weights_hash=("0x" + model.weights_sha256) if model.weights_sha256 else ZERO_HASH,
            model_version=expert_version(spec.model_version, state["corpus"]),
            licence=spec.licence,
        )
        state["registration"] = ensure_registered(chain, account, profile, spec.stake_wei)
        coordinators = on_chain(chain, spec.trusted_coordinators)
        replays = ReplayGuard(max_ahead_s=spec.max_deadline_ahead_s)
        state["respondent"] = Respondent(model, account, signing_domain(chain), coordinators, replays)

        def grown(change: KnowledgeChange) -> None:  # the knowledge folder changed: serve and record it
            keep_earlier(state["earlier_corpora"], state["corpus"])
            state["corpus"] = served_corpus(spec.backend.knowledge)
            new = grown_profile(profile, spec.model_version, change)
            state["registration"] = ensure_registered(chain, account, new, spec.stake_wei)

        growth = watch_knowledge(model, spec.backend.knowledge, grown)
        from llmnet.tuning.registration import served_manifest  # licences and manifests: only when serving

        given = spec.backend.expert  # the manifest named in the spec, else the one found beside the weights
        state["manifest"] = given.read_bytes() if given is not None else served_manifest(model)
        state["expert"] = expert_digest(state["manifest"])  # of the manifest /v1/expert serves
        ready_to_serve()
        yield
        if growth is not None:
            growth.cancel()

    app = FastAPI(title=f"llmnet respondent {spec.name}", lifespan=lifespan)
    install_error_handlers(app)

    @app.get("/health")
    def health() -> dict[str, Any]:
        r: Respondent = state["respondent"]
        return {
            "role": "respondent",
            "name": spec.name,
            "address": account.address,
            "model_id": r.backend.model_id,
            "domains": spec.domains,
            "registration": state["registration"],
            "corpus": state["corpus"][0] if state["corpus"] else None,
            "expert": state["expert"],  # the served expert manifest's digest, as the chain records it
        }

    @app.get("/v1/expert")
    def expert() -> HTTPResponse:
        """The manifest of the trained expert version this respondent serves (its provenance on chain
        names this URL and the manifest's sha256)."""
        if state["manifest"] is None:
            raise NotFound("this respondent serves no trained expert version (no expert.json beside its weights)")
        return HTTPResponse(state["manifest"], media_type="application/json")

    @app.get("/v1/corpus/{corpus_hash}")
    def corpus(corpus_hash: str) -> HTTPResponse:
        """The packed corpus of this respondent's knowledge folder (see llmnet.experts.corpus)."""
        served: tuple[str, bytes] | None = state["corpus"]
        wanted = corpus_hash.lower()
        packed = served[1] if served and wanted == served[0] else state["earlier_corpora"].get(wanted)
        if packed is None:
            raise NotFound(f"this respondent serves no corpus {corpus_hash!r}; its /health names the one it serves")
        return HTTPResponse(packed, media_type="application/json")

    @app.get("/v1/weights/{sha256}")
    def weights(sha256: str) -> FileResponse:
        """A weights file this respondent runs (GGUF model or adapter), by sha256, so validators can re-run it."""
        r: Respondent = state["respondent"]
        path = r.backend.weight_files().get(sha256.lower().removeprefix("0x"))
        if path is None:
            raise NotFound(f"this respondent runs no weights with sha256 {sha256!r}; its registration names them")
        return FileResponse(path, media_type="application/octet-stream")

    async def respond(request: Request) -> HTTPResponse:
        # a plain route: the body is parsed once by pydantic-core, and the answer serialized once
        r: Respondent = state["respondent"]
        req = parse_json(RespondRequest, await request.body())
        if req.stream:
            assignment = r.check(req)  # refuse before the stream starts, with a proper status code
            return StreamingResponse(r.stream(req, assignment), media_type="text/event-stream")
        reply = r.respond(req) if r.backend.instant else await asyncio.to_thread(r.respond, req)
        return HTTPResponse(reply.model_dump_json(), media_type="application/json")

    return HotRoutes(app, {"/v1/respond": HotRoute(respond, RespondRequest, RespondReply)})
