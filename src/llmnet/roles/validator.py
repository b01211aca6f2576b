"""A validator: rates answers, signs its ratings, and (the settler) records it all on chain.

Rating: only under a RatingAssignment a trusted coordinator signed for this
validator (see roles.rating_gate), each accepted once; every answer must carry
a Response signed by the registered respondent it claims, over the hash of
exactly that text; the judge scores it 1-10, and the score goes back as a
signed Rating.

Settlement: a validator started with ``settler`` is also the settler
(:mod:`llmnet.roles.settler`), which records finished tasks on chain in batches.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from fastapi import Path as PathParam
from pydantic import BaseModel, Field, StrictInt

from llmnet.api.errors import install_error_handlers
from llmnet.api.routes import HotRoutes, threaded_json
from llmnet.chain.ledger import Ledger
from llmnet.chain.outbox import Outbox
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import ConfigError, InputError, NotFound, SignatureError
from llmnet.experts.corpus_cache import CorpusCache
from llmnet.questions import load_questions, reference_book
from llmnet.roles.admission import on_chain
from llmnet.roles.common import ServiceSpec, deployment_dir, ready_to_serve, signing_domain
from llmnet.roles.epochs import CommitRevealWorker, EpochClock, RatingLog, RevealedRatings
from llmnet.roles.judge import Judge
from llmnet.roles.protocol import (
    RateReply,
    RateRequest,
    SettlementState,
    SettleReply,
    SettleRequest,
    SpotCheckReply,
    SpotCheckRequest,
)
from llmnet.roles.rating_gate import RatingGate, RegisteredProviders
from llmnet.roles.replay import MAX_DEADLINE_AHEAD_S, ReplayGuard
from llmnet.roles.respondent import BackendSpec
from llmnet.roles.settler import SettlementQueue, Settler, settle_forever
from llmnet.roles.spotcheck import Reproducer, SpotChecker, SpotService
from llmnet.roles.trust_keeper import TrustKeeper
from llmnet.roles.weights_cache import WeightsCache
from llmnet.signing import MAX_SCORE, Rating, Response, SignedMessage, SigningDomain, sign, typed_data_hash
from llmnet.types import ETHER

log = logging.getLogger("llmnet.validator")


#: what validators rate with unless told otherwise: the answers checked against the domain's documents
DEFAULT_JUDGE = "grounded"
#: every judge JudgeSpec.build knows; the last three are attack models of the adversary suite
JUDGE_KINDS = ("grounded", "combined", "reference", "llm", "fake", "random", "collude", "copy")


class JudgeSpec(BaseModel):
    # grounded | combined | reference | llm | fake; attack models for the adversary suite: random | collude | copy
    kind: str = DEFAULT_JUDGE
    backend: BackendSpec = Field(default_factory=BackendSpec)
    fake_score: float = 5.0  # what the fake judge gives every answer
    friends: list[str] = Field(default_factory=list)  # whom a colluding judge always rates 10
    references_file: Path | None = None  # the reference judge's own answers (JSON lines: question, reference)
    # grounded: each domain's reference documents (domain -> folder of .md/.txt), and whether the model
    # (``backend``) rates what the documents and arithmetic cannot; with it, the validator registers the
    # model's weights and is not shown answers from respondents running them
    corpora: dict[str, Path] = Field(default_factory=dict)
    with_model: bool = False

    def reference_judge(self) -> Judge:
        from llmnet.roles.judge import ReferenceJudge

        return ReferenceJudge(reference_book(load_questions(self.references_file)))

    def grounded_judge(self) -> Judge:
        from llmnet.experts.knowledge import KnowledgeBase
        from llmnet.roles.grounded import GroundedJudge

        corpora = {domain: KnowledgeBase.from_folder(folder) for domain, folder in self.corpora.items()}
        return GroundedJudge(corpora, self.backend.build() if self.with_model else None)

    def build(self, ledger: Ledger | None = None) -> Judge:
        from llmnet.roles.judge import CombinedJudge, FakeJudge, LLMJudge, ReferenceJudge

        if self.kind == "fake":
            return FakeJudge(default=self.fake_score)
        if self.kind == "reference":
            return self.reference_judge()
        if self.kind in ("random", "collude", "copy"):
            from llmnet.roles.adversarial_judges import CollusionJudge, CopyJudge, RandomJudge

            if self.kind == "random":
                return RandomJudge()
            if self.kind == "collude":
                return CollusionJudge(self.reference_judge(), frozenset(self.friends))
            if ledger is None:
                raise InputError("a copying judge reads reputation from the chain: build it with a ledger")
            return CopyJudge(ledger)
        if self.kind == "grounded":
            return self.grounded_judge()
        llm = LLMJudge(self.backend.build())
        if self.kind == "llm":
            return llm
        if self.kind == "combined":
            return CombinedJudge(ReferenceJudge(), llm)
        raise InputError(
            f"unknown judge kind {self.kind!r}; use combined, reference, llm, grounded or fake "
            "(or random, collude, copy)"
        )


class ValidatorSpec(ServiceSpec):
    judge: JudgeSpec = Field(default_factory=JudgeSpec)
    settler: bool = False
    # whose ratings the settler counts: every validator in good standing on chain, or of them only these
    validators: list[str] = Field(default_factory=list)
    # who may assign ratings and send outcomes: every coordinator in good standing on chain, or of
    # them only these (see llmnet.roles.admission)
    trusted_coordinators: list[str] = Field(default_factory=list)
    # a rating assignment due further ahead than this is refused (it bounds the replay memory)
    max_deadline_ahead_s: float = Field(default=MAX_DEADLINE_AHEAD_S, gt=0, le=86_400)
    settle_interval_s: float = 2.0
    max_batch: int = 200
    stake_wei: int = ETHER  # staked in the validator book when the validator first starts
    spot_check_rate: float = Field(default=0.0, ge=0, le=1)  # share of rated answers re-run (see roles.spotcheck)
    # the settler: what one human ranking counts for in respondents' reputation (0: rankings are ignored)
    ranking_weight: float = Field(default=0.5, ge=0, le=1)


class Rater:
    """Rates answers and signs the ratings; with a ``log`` and ``clock`` each rating is stamped
    with its epoch and recorded for commit-reveal before it is handed out. ``gate`` admits only
    requests a trusted coordinator assigned to this validator (see roles.rating_gate)."""

    def __init__(self, judge: Judge, account: LocalAccount, domain: SigningDomain, log: RatingLog | None = None,
                 clock: EpochClock | None = None, spots: SpotService | None = None, *,
                 gate: RatingGate) -> None:  # fmt: skip
        self.judge, self.account, self.domain, self.log, self.clock = judge, account, domain, log, clock
        self.spots, self.gate = spots, gate
        if gate.validator != account.address:
            raise ConfigError(f"the rating gate admits requests for {gate.validator}, not for {account.address}")

    def rate(self, req: RateRequest) -> RateReply:
        responses = self.gate.admit(req)
        answers = {a.respondent: a.text for a in req.answers}
        if self.judge.reads_domain:
            scores = self.judge.rate(req.question, answers, req.reference, domain=req.domain)
        else:  # a judge of another package may not take the keyword
            scores = self.judge.rate(req.question, answers, req.reference)
        epoch = self.clock.epoch() if self.clock else 0
        signed = []
        for who, response in responses.items():
            score = max(0, min(MAX_SCORE, round(scores[who] * 100)))
            rating = Rating(
                task_id=req.task_id, validator=self.account.address, respondent=who,
                response_hash=response.content_hash, score=score, round=req.round, epoch=epoch,
            )  # fmt: skip
            signed.append(sign(rating, self.account, self.domain))
        if self.log is not None:
            self.log.add(epoch, [typed_data_hash(r.message, self.domain) for r in signed])
        if self.spots is not None:
            for a in req.answers:
                self.spots.offer(a.response, a.request)
        return RateReply(validator=self.account.address, ratings=[r.to_dict() for r in signed])


def ensure_validator(ledger: Web3Ledger, account: LocalAccount, endpoint: str, judge: Judge, stake: int) -> str:
    """Stake in the validator book on first start, or move the entry to this endpoint and judge;
    returns what was done."""
    model_id, weights_hash = judge.identity()
    if not ledger.is_validator(account.address):
        ledger.register_validator(endpoint, model_id, weights_hash, stake, account)
        return "registered"
    found = ledger.get_validator(account.address)
    registered = (found.endpoint, found.judge_model_id, found.judge_weights_hash.lower())
    if registered == (endpoint, model_id, weights_hash.lower()):
        return "unchanged"
    ledger.update_validator(endpoint, model_id, weights_hash, account)
    return "updated"


def with_chain_corpora(spec: ValidatorSpec, ledger: Ledger, cache: CorpusCache | None = None) -> JudgeSpec:
    """The spec's judge, a grounded one also holding the corpus of every domain on chain that it was
    not given a folder for, fetched by the domain's card (see llmnet.experts.domain_sources)."""
    if spec.judge.kind != "grounded":
        return spec.judge
    from llmnet.experts.domain_sources import corpora_for

    cache = cache or CorpusCache(spec.data_dir / "corpora")
    missing = [d for d in ledger.domains() if d not in spec.judge.corpora and d != "general"]
    fetched = corpora_for(missing, ledger, cache) if missing else {}
    return spec.judge.model_copy(update={"corpora": {**fetched, **spec.judge.corpora}})


def create_validator_app(spec: ValidatorSpec, *, judge: Judge | None = None) -> HotRoutes:
    account = spec.account.load()
    state: dict[str, Any] = {}
    report: dict[str, str | None] = {"last_error": None}
    stop = threading.Event()

    def epoch_loop() -> None:
        worker: CommitRevealWorker = state["worker"]
        while not stop.wait(0.5):
            try:
                worker.step()
            except Exception as exc:  # keep the log; report and retry
                worker.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("commit-reveal step failed; retried in 0.5 s")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        ledger = spec.chain.ledger()
        state["domain"] = signing_domain(ledger)
        rater_judge = judge or with_chain_corpora(spec, ledger).build(ledger)
        here = deployment_dir(spec.data_dir, ledger)
        clock = EpochClock(ledger)
        log = RatingLog(here / f"{spec.name}-ratings.sqlite")
        state["log"] = log
        reproducer = Reproducer(n_threads=1, weights=WeightsCache(here / "weights"),
                                endpoint_of=lambda who: ledger.get_provider(who).profile.endpoint)  # fmt: skip
        checker = SpotChecker(reproducer, account, state["domain"])
        state["checker"] = checker
        spots = SpotService(checker, ledger, spec.spot_check_rate) if spec.spot_check_rate > 0 else None
        state["spots"] = spots
        replays = ReplayGuard(max_ahead_s=spec.max_deadline_ahead_s)
        coordinators = on_chain(ledger, spec.trusted_coordinators)
        gate = RatingGate(account.address, state["domain"], coordinators,
                          RegisteredProviders(ledger.is_registered), replays)  # fmt: skip
        state["rater"] = Rater(rater_judge, account, state["domain"], log, clock, spots, gate=gate)
        state["registration"] = ensure_validator(ledger, account, spec.url, rater_judge, spec.stake_wei)
        epoch_outbox = Outbox(here / f"{spec.name}-epochs-outbox.sqlite", ledger, [account])
        epoch_outbox.recover()
        state["worker"] = CommitRevealWorker(log, clock, ledger, account, epoch_outbox)
        threading.Thread(target=epoch_loop, name="llmnet-commit-reveal", daemon=True).start()
        if spec.settler:
            if not ledger.is_settler(account.address):
                raise SignatureError(f"{account.address} is not an authorised settler on chain {ledger.chain_id}")
            path = here / f"{spec.name}-settlement.sqlite"
            keeper = TrustKeeper(ledger, only=frozenset(spec.validators))
            reveals = RevealedRatings(ledger, lambda v: ledger.get_validator(v).endpoint)
            queue = SettlementQueue(path, ledger, account, spec.max_batch, keeper, reveals, clock, spec.ranking_weight)
            queue.outbox.recover()
            state["queue"] = queue
            state["settler"] = Settler(queue, state["domain"], coordinators)
            threading.Thread(target=settle_forever, args=(queue, spec.settle_interval_s, stop, report),
                             name="llmnet-settle", daemon=True).start()  # fmt: skip
        ready_to_serve()
        yield
        stop.set()
        if state.get("spots"):
            state["spots"].stop()

    app = FastAPI(title=f"llmnet validator {spec.name}", lifespan=lifespan)
    install_error_handlers(app)

    @app.get("/health")
    def health() -> dict[str, Any]:
        info: dict[str, Any] = {"role": "validator", "name": spec.name, "address": account.address,
                                "registration": state.get("registration"),
                                "commit_reveal_error": state["worker"].last_error if "worker" in state else None,
                                "epochs_pending": state["log"].pending() if "log" in state else [],
                                "spot_checks": state["spots"].stats if state.get("spots") else None,
                                "spot_check_error": state["spots"].last_error if state.get("spots") else None,
                                }  # fmt: skip
        if "queue" in state:
            info |= {
                "settler": True,
                "queued": state["queue"].queued(),
                "last_error": report["last_error"],
                "human_rankings": state["queue"].feed.states() if state["queue"].feed else None,
            }
        return info

    def rate(req: RateRequest) -> RateReply:
        started = time.perf_counter()
        reply: RateReply = state["rater"].rate(req)
        state["last_rate_s"] = time.perf_counter() - started
        return reply

    def settle(req: SettleRequest) -> SettleReply:
        if "settler" not in state:
            raise NotFound("this validator does not settle; send outcomes to the settling validator")
        reply: SettleReply = state["settler"].accept(req)
        return reply

    def spot_check_sync(req: SpotCheckRequest) -> SpotCheckReply:
        found = state["checker"].check(SignedMessage.from_dict(req.response, Response), req.request)
        return SpotCheckReply(attestation=found.to_dict() if found is not None else None)

    @app.post("/v1/spotcheck")
    async def spot_check(req: SpotCheckRequest) -> SpotCheckReply:
        """Re-run another validator's suspect answer; a signed attestation if the output differs."""
        reply: SpotCheckReply = await asyncio.to_thread(spot_check_sync, req)
        return reply

    @app.get("/v1/epochs/{epoch}")
    def epoch_digests(epoch: Annotated[int, PathParam(ge=0, lt=2**63)]) -> dict[str, Any]:
        """The digests of the ratings this validator made in ``epoch``, once it has revealed them."""
        digests = state["log"].revealed(epoch)
        return {"validator": account.address, "epoch": epoch, "digests": digests}

    @app.get("/v1/settlements/{task_id:int}")
    def settlement(task_id: Annotated[int, PathParam(lt=2**63)]) -> SettlementState:  # as sqlite stores it
        return _queue().status(task_id)

    @app.post("/v1/settlements/query")
    def settlements(task_ids: list[Annotated[StrictInt, Field(ge=0, lt=2**63)]]) -> list[SettlementState]:
        """Many tasks' settlement states in one call (unknown tasks are left out)."""
        return _queue().statuses(task_ids[:1000])

    def _queue() -> SettlementQueue:
        if "queue" not in state:
            raise NotFound("this validator does not settle; ask the settling validator")
        queue: SettlementQueue = state["queue"]
        return queue

    return HotRoutes(app, {"/v1/rate": threaded_json(RateRequest, rate),
                           "/v1/settle": threaded_json(SettleRequest, settle)})  # fmt: skip
