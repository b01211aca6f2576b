"""A validator: rates answers, signs its ratings, and (the settler) records it all on chain.

Rating: every answer must carry a Response signed by the respondent it claims,
over the hash of exactly that text; the judge scores it 1-10, and the score
goes back as a signed Rating.

Settlement: the settling validator accepts finished tasks from a trusted
coordinator, verifies every response and rating signature, takes the median
of the validators' ratings per respondent, and queues the outcome durably. A
background loop settles the queue in batches through the outbox (one
transaction per batch: payouts, reputation, receipts root).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from fastapi import Path as PathParam
from pydantic import BaseModel, Field, StrictInt

from llmnet.api.errors import install_error_handlers
from llmnet.api.routes import HotRoutes, threaded_json
from llmnet.chain.ledger import Ledger
from llmnet.chain.outbox import Outbox
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import InputError, NotFound, SignatureError
from llmnet.questions import load_questions, reference_book
from llmnet.reputation.consensus import ClipRule, Consensus, normalize_score, robust_consensus
from llmnet.reputation.outcome_rows import OutcomeRows, rater_evidence
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, outcome_rows, plan_settlement
from llmnet.reputation.trust import EvidenceRule, TrustRule, fold_trust, update_trust, validator_weights
from llmnet.rlhf.book import RankingBook
from llmnet.rlhf.feed import RankingFeed
from llmnet.roles.common import ServiceSpec, deployment_dir, ready_to_serve, signing_domain, verified
from llmnet.roles.epochs import CommitRevealWorker, EpochClock, RatingLog, RevealedRatings, RevealUnavailable
from llmnet.roles.judge import Judge
from llmnet.roles.protocol import (
    Outcome,
    RateReply,
    RateRequest,
    SettleReply,
    SettleRequest,
    SpotCheckReply,
    SpotCheckRequest,
)
from llmnet.roles.respondent import BackendSpec
from llmnet.roles.spotcheck import Reproducer, SpotChecker, SpotService
from llmnet.signing import MAX_SCORE, Rating, Response, SignedMessage, SigningDomain, sign, typed_data_hash
from llmnet.store import content_hash, transaction
from llmnet.types import ETHER

log = logging.getLogger("llmnet.validator")


class JudgeSpec(BaseModel):
    # combined | reference | llm | fake; attack models for the adversary suite: random | collude | copy
    kind: str = "combined"
    backend: BackendSpec = Field(default_factory=BackendSpec)
    fake_score: float = 5.0  # what the fake judge gives every answer
    friends: list[str] = Field(default_factory=list)  # whom a colluding judge always rates 10
    references_file: Path | None = None  # the reference judge's own answers (JSON lines: question, reference)

    def reference_judge(self) -> Judge:
        from llmnet.roles.judge import ReferenceJudge

        return ReferenceJudge(reference_book(load_questions(self.references_file)))

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
        llm = LLMJudge(self.backend.build())
        if self.kind == "llm":
            return llm
        if self.kind == "combined":
            return CombinedJudge(ReferenceJudge(), llm)
        raise InputError(
            f"unknown judge kind {self.kind!r}; use combined, reference, llm or fake (or random, collude, copy)"
        )


class ValidatorSpec(ServiceSpec):
    judge: JudgeSpec = Field(default_factory=JudgeSpec)
    settler: bool = False
    validators: list[str] = Field(default_factory=list)  # whose ratings the settler accepts
    trusted_coordinators: list[str] = Field(default_factory=list)
    settle_interval_s: float = 2.0
    max_batch: int = 200
    stake_wei: int = ETHER  # staked in the validator book when the validator first starts
    spot_check_rate: float = Field(default=0.0, ge=0, le=1)  # share of rated answers re-run (see roles.spotcheck)
    # the settler: what one human ranking counts for in respondents' reputation (0: rankings are ignored)
    ranking_weight: float = Field(default=0.5, ge=0, le=1)


def check_response(data: dict[str, Any], text: str, respondent: str, domain: SigningDomain) -> Response:
    signed = verified(data, Response, domain)
    if signed.signer != respondent:
        raise SignatureError(f"response claims respondent {respondent} but was signed by {signed.signer}")
    if signed.message.content_hash != content_hash(text.encode()):
        raise InputError(f"the text given for {respondent} is not the text its response signed")
    return signed.message


class Rater:
    """Rates answers and signs the ratings; with a ``log`` and ``clock`` each rating is stamped
    with its epoch and recorded for commit-reveal before it is handed out."""

    def __init__(self, judge: Judge, account: LocalAccount, domain: SigningDomain, log: RatingLog | None = None,
                 clock: EpochClock | None = None, spots: SpotService | None = None) -> None:  # fmt: skip
        self.judge, self.account, self.domain, self.log, self.clock = judge, account, domain, log, clock
        self.spots = spots

    def rate(self, req: RateRequest) -> RateReply:
        responses = {a.respondent: check_response(a.response, a.text, a.respondent, self.domain) for a in req.answers}
        scores = self.judge.rate(req.question, {a.respondent: a.text for a in req.answers}, req.reference)
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


@dataclass(frozen=True)
class CheckedRating:
    validator: str
    respondent: str
    score: float  # 1-10
    epoch: int
    digest: str


@dataclass(frozen=True)
class CheckedOutcome:
    """An outcome whose every signature verified, reduced to what settlement needs."""

    task_id: int
    domain: str
    fee: int
    requester: str
    coordinator: str
    receipt_hash: str
    failed: tuple[str, ...]
    ratings: tuple[CheckedRating, ...]
    gold: dict[str, float] | None = None  # respondent -> true score (1-10), for a gold task
    responses: dict[str, str] = field(default_factory=dict)  # respondent -> signed content hash

    @property
    def ready_epoch(self) -> int:
        """The first epoch in which all of its ratings' reveal windows are over."""
        return max((r.epoch for r in self.ratings), default=-3) + 3

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CheckedOutcome:
        data = json.loads(text)
        data["failed"] = tuple(data["failed"])
        data["ratings"] = tuple(CheckedRating(**r) for r in data["ratings"])
        return cls(**data)


def verify_outcome(o: Outcome, domain: SigningDomain, validators: frozenset[str]) -> CheckedOutcome:
    """Verify an outcome's receipt, response and rating signatures; a rating signed by anyone
    outside ``validators`` (the validator book) is refused."""
    o.check_receipt()
    responses = {}
    for data in o.responses:
        r = verified(data, Response, domain).message
        if r.task_id != o.task_key:
            raise InputError(f"a response for task {r.task_id} was filed under task {o.task_key}")
        responses[r.respondent] = r
    ratings = []
    for data in o.ratings:
        rating = verified(data, Rating, domain, validators).message
        if rating.task_id != o.task_key:
            raise InputError(f"a rating for task {rating.task_id} was filed under task {o.task_key}")
        answered = responses.get(rating.respondent)
        if answered is None or answered.content_hash != rating.response_hash:
            raise InputError(f"rating by {rating.validator} is for a response this task does not have")
        ratings.append(CheckedRating(rating.validator, rating.respondent, rating.score / 100, rating.epoch,
                                     typed_data_hash(rating, domain)))  # fmt: skip
    gold = o.receipt.get("gold")  # covered by the receipt hash the coordinator signed
    if gold is not None and not (
        isinstance(gold, dict) and all(isinstance(v, int | float) and 1 <= v <= 10 for v in gold.values())
    ):
        raise InputError(f"the gold scores of task {o.task_id} are malformed: {gold!r}")
    return CheckedOutcome(o.task_id, o.domain, o.fee, o.requester, o.coordinator, o.receipt_hash, tuple(o.failed),
                          tuple(ratings), gold, {who: r.content_hash for who, r in responses.items()})  # fmt: skip


def score_outcome(c: CheckedOutcome, ratings: Sequence[CheckedRating], weights: Mapping[str, float]) -> TaskOutcome:
    """The settled outcome from the ratings that count: one clipped, weighted consensus score
    per respondent, and each validator's agreement with it."""
    by_validator: dict[str, dict[str, float]] = {}
    for r in ratings:
        by_validator.setdefault(r.validator, {})[r.respondent] = r.score
    if c.gold is not None:  # the truth is known: respondents are scored by it, validators measured against it
        rule = ClipRule()
        agreement = {
            v: sum(rule.agreement(s, c.gold.get(who, s)) for who, s in mine.items()) / len(mine)
            for v, mine in by_validator.items()
        }
        return TaskOutcome(
            task_id=c.task_id, domain=c.domain, fee=c.fee, requester=c.requester, coordinator=c.coordinator,
            scores={who: normalize_score(s) for who, s in c.gold.items()}, validators=tuple(sorted(by_validator)),
            receipt_hash=c.receipt_hash, failed=frozenset(c.failed),
            validator_weights={v: weights.get(v, 0.0) * agreement[v] for v in by_validator},
            agreement=agreement, gold=True, ratings=by_validator, targets=dict(c.gold),
        )  # fmt: skip
    agreed = robust_consensus(by_validator, weights) if by_validator else None
    return consensus_outcome(c, agreed, weights, by_validator)


def consensus_outcome(c: CheckedOutcome, agreed: Consensus | None, weights: Mapping[str, float],
                      ratings: Mapping[str, Mapping[str, float]] | None = None) -> TaskOutcome:  # fmt: skip
    """The settled outcome of a task scored by consensus (``None``: nobody rated it);
    ``ratings`` (validator -> respondent -> rating) are kept for trust, which measures each
    against the median of the other validators' ratings."""
    raters = agreed.agreement if agreed else {}
    return TaskOutcome(
        task_id=c.task_id, domain=c.domain, fee=c.fee, requester=c.requester, coordinator=c.coordinator,
        scores={who: normalize_score(s) for who, s in agreed.scores.items()} if agreed else {},
        validators=tuple(sorted(raters)), receipt_hash=c.receipt_hash, failed=frozenset(c.failed),
        validator_weights={v: weights.get(v, 0.0) for v in raters}, agreement=dict(raters),
        ratings=dict(ratings or {}), targets=dict(agreed.medians) if agreed else {},
    )  # fmt: skip


def _status(task_id: int, record_id: int | None, batch_id: int | None, tx_hash: str | None) -> dict[str, Any]:
    state = "queued" if record_id is None else ("settled" if batch_id is not None else "submitted")
    return {"task_id": task_id, "state": state, "batch_id": batch_id, "tx_hash": tx_hash}


class TrustKeeper:
    """The settler's view of the validator book: stake x trust per registered validator, and
    the trust each settled batch earns or costs them, recorded on chain after the batch.

    ``only``: when not empty, ratings count only from these validators (a deployment's allowlist)."""

    def __init__(self, ledger: Ledger, rule: TrustRule | None = None, *, ttl_s: float = 5.0,
                 only: frozenset[str] = frozenset(), evidence: EvidenceRule | None = None) -> None:  # fmt: skip
        self.ledger, self.rule, self.ttl_s, self.only = ledger, rule or TrustRule(), ttl_s, only
        self.evidence = evidence or EvidenceRule()
        self.trust: dict[str, float] = {}
        self._stakes: dict[str, int] = {}
        self._read_at = -math.inf
        self.lock = threading.Lock()

    def weights(self, need: Iterable[str] = ()) -> dict[str, float]:
        """stake x trust per validator; read again from the chain when older than ``ttl_s`` or
        when a validator in ``need`` is not known yet (it may have just registered)."""
        with self.lock:
            # never read counts as stale even with ttl_s = inf (inf - -inf > inf is False)
            stale = self._read_at == -math.inf or time.monotonic() - self._read_at > self.ttl_s
            if stale or any(v not in self._stakes for v in need):
                book = self.ledger.validators()
                self._stakes = {v.address: v.stake for v in book if not self.only or v.address in self.only}
                for v in book:
                    self.trust.setdefault(v.address, v.trust)
                self._read_at = time.monotonic()
            return validator_weights(self._stakes, self.trust, self.rule)

    def observe(self, outcomes: Sequence[TaskOutcome], unrevealed: Iterable[str] = ()) -> list[tuple[str, int]]:
        """Fold the batch's evidence into trust: each rater's chance-corrected agreement over the
        batch's ordinary tasks and over its gold ones (see :mod:`llmnet.reputation.trust`), and
        for every (validator, epoch) whose ratings were not revealed, one gold-weight observation
        of 0. Returns the (validator, ppm) pairs to record."""
        return self.observe_rows(outcome_rows(outcomes), unrevealed)

    def observe_rows(self, rows: OutcomeRows, unrevealed: Iterable[str] = ()) -> list[tuple[str, int]]:
        """:meth:`observe` for outcomes given as rows."""
        with self.lock:
            changed: set[str] = set()
            now = validator_weights(self._stakes, self.trust, self.rule)
            weights = np.array([now.get(name, 0.0) for name in rows.names])
            for who, (evidence, gold, counts) in rater_evidence(rows, weights, self.evidence).items():
                validator = rows.names[who]
                current = self.trust.get(validator, self.rule.initial)
                self.trust[validator] = fold_trust(current, evidence, gold, self.rule, counts)
                changed.add(validator)
            for validator in unrevealed:
                current = self.trust.get(validator, self.rule.initial)
                self.trust[validator] = update_trust(current, 0.0, self.rule, gold=True)
                changed.add(validator)
            return [(v, round(self.trust[v] * 1_000_000)) for v in sorted(changed)]


def ensure_validator(ledger: Web3Ledger, account: LocalAccount, endpoint: str, judge: Judge, stake: int) -> str:
    """Stake in the validator book on first start; returns what was done."""
    if ledger.is_validator(account.address):
        return "unchanged"
    model_id, weights_hash = judge.identity()
    ledger.register_validator(endpoint, model_id, weights_hash, stake, account)
    return "registered"


class SettlementQueue:
    """Durable queue of verified outcomes, settled in batches through the outbox."""

    def __init__(self, path: Path, ledger: Web3Ledger, account: LocalAccount, max_batch: int,
                 keeper: TrustKeeper, reveals: RevealedRatings, clock: EpochClock,
                 ranking_weight: float = 0.0) -> None:  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        self.ledger, self.account, self.max_batch = ledger, account, max_batch
        self.keeper, self.reveals, self.clock = keeper, reveals, clock
        self.outbox = Outbox(path.with_name("validator-outbox.sqlite"), ledger, [account])
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS outcomes (task_id INTEGER PRIMARY KEY, outcome TEXT NOT NULL, "
            "ready_epoch INTEGER NOT NULL, record_id INTEGER, batch_id INTEGER, tx_hash TEXT)"
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS outcomes_ready ON outcomes(record_id, ready_epoch)")
        # (validator, epoch) pairs already charged for ratings they never revealed: kept with the
        # batches that charged them, so a restart does not charge them twice
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS penalised (validator TEXT NOT NULL, epoch INTEGER NOT NULL, "
            "PRIMARY KEY (validator, epoch))"
        )
        self.lock = threading.Lock()
        self._penalised: set[tuple[str, int]] = {
            (v, int(e)) for v, e in self.db.execute("SELECT validator, epoch FROM penalised")
        }
        has_rankings = bool(getattr(ledger.deployment, "rankings", ""))
        self.feed = RankingFeed(self.db, self.lock, RankingBook(ledger), ranking_weight) if (
            ranking_weight > 0 and has_rankings) else None  # fmt: skip

    def add(self, outcomes: list[CheckedOutcome]) -> int:
        """Queue outcomes already verified (so settling does not verify the same signatures again);
        each waits until the reveal windows of its ratings are over."""
        rows = [(o.task_id, o.to_json(), o.ready_epoch) for o in outcomes]
        if self.feed is not None:
            self.feed.remember((h, who, o.domain) for o in outcomes for who, h in o.responses.items())
        with self.lock, transaction(self.db):
            cur = self.db.executemany(
                "INSERT OR IGNORE INTO outcomes (task_id, outcome, ready_epoch) VALUES (?, ?, ?)", rows
            )
            return cur.rowcount

    def _counted(self, c: CheckedOutcome, current: int) -> tuple[list[CheckedRating], set[tuple[str, int]]] | None:
        """The ratings whose validators revealed them, and the (validator, epoch) pairs that did not
        reveal; None while a revealed list cannot be fetched yet (for up to three more epochs)."""
        kept, missing = [], set()
        for r in c.ratings:
            try:
                listed = self.reveals.digests(r.validator, r.epoch)
            except RevealUnavailable:
                if current < r.epoch + 6:
                    return None
                listed = None
            if listed is not None and r.digest in listed:
                kept.append(r)
            else:
                missing.add((r.validator, r.epoch))
        return kept, missing

    def queued(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT COUNT(*) FROM outcomes WHERE record_id IS NULL").fetchone()[0])

    def statuses(self, task_ids: list[int]) -> list[dict[str, Any]]:
        """The states of those of ``task_ids`` this queue has seen (the others are left out), in one read."""
        ids = [int(t) for t in task_ids]
        with self.lock:
            rows = self.db.execute(
                "SELECT task_id, record_id, batch_id, tx_hash FROM outcomes WHERE task_id IN "
                "(SELECT value FROM json_each(?))",
                (json.dumps(ids),),
            ).fetchall()
        found = {row[0]: _status(*row) for row in rows}
        return [found[t] for t in ids if t in found]

    def status(self, task_id: int) -> dict[str, Any]:
        with self.lock:
            row = self.db.execute(
                "SELECT task_id, record_id, batch_id, tx_hash FROM outcomes WHERE task_id = ?", (task_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"task {task_id} has not reached the settling validator")
        return _status(*row)

    def settle_once(self) -> int:
        """Submit one batch of queued outcomes and confirm earlier ones; returns tasks submitted."""
        self._confirm()
        current = self.clock.epoch()
        with self.lock:
            candidates = self.db.execute(
                "SELECT task_id, outcome FROM outcomes WHERE record_id IS NULL AND ready_epoch <= ? "
                "ORDER BY task_id LIMIT ?",
                (current, self.max_batch),
            ).fetchall()
        weights = self.keeper.weights()
        rows, outcomes, unrevealed = [], [], set()
        for task_id, text in candidates:
            checked = CheckedOutcome.from_json(text)
            counted = self._counted(checked, current)
            if counted is None:
                continue
            kept, missing = counted
            rows.append((task_id, text))
            outcomes.append(score_outcome(checked, kept, weights))
            unrevealed |= missing - self._penalised
        if not rows:
            return 0
        self._penalised |= unrevealed
        ranked, extra = self.feed.take() if self.feed is not None else ([], [])
        batch = plan_settlement(outcomes, FeeSplit(), self.ledger.decay, extra)
        key = f"settle-{rows[0][0]}-{rows[-1][0]}-{len(rows)}"
        record_id = self.outbox.submit(self.ledger.settlement_call(batch), self.account, key=key)
        with self.lock, transaction(self.db):
            self.db.executemany(
                "UPDATE outcomes SET record_id = ? WHERE task_id = ?", [(record_id, t) for t, _ in rows]
            )
            self.db.executemany("INSERT OR IGNORE INTO penalised (validator, epoch) VALUES (?, ?)", sorted(unrevealed))
            if self.feed is not None:
                self.feed.mark(ranked, record_id)
        trust = self.keeper.observe(outcomes, [v for v, _ in sorted(unrevealed)])
        if trust:
            self.outbox.submit(self.ledger.set_trust_call(trust), self.account, key=f"trust-{key}")
        self.outbox.process()
        self._confirm()
        return len(rows)

    def _confirm(self) -> None:
        with self.lock:
            pending = self.db.execute(
                "SELECT DISTINCT record_id FROM outcomes WHERE record_id IS NOT NULL AND batch_id IS NULL"
            ).fetchall()
        for (record_id,) in pending:
            record = self.outbox.get(record_id)
            if record.state != "mined" or record.tx_hash is None:
                continue
            receipt = self.ledger.tx.receipt(record.tx_hash)
            ids = self.ledger.settled_batch_ids(receipt.logs) if receipt else []
            if ids:
                with self.lock:
                    self.db.execute(
                        "UPDATE outcomes SET batch_id = ?, tx_hash = ? WHERE record_id = ?",
                        (ids[0], record.tx_hash, record_id),
                    )


def create_validator_app(spec: ValidatorSpec, *, judge: Judge | None = None) -> HotRoutes:
    account = spec.account.load()
    state: dict[str, Any] = {}
    stop = threading.Event()

    def settle_loop() -> None:
        queue: SettlementQueue = state["queue"]
        while not stop.wait(spec.settle_interval_s):
            try:
                while queue.settle_once():
                    pass
            except Exception as exc:  # keep the queue; report and retry next interval
                state["last_error"] = f"{type(exc).__name__}: {exc}"
                log.exception("settlement failed; the queue is kept and retried in %.1f s", spec.settle_interval_s)

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
        rater_judge = judge or spec.judge.build(ledger)
        here = deployment_dir(spec.data_dir, ledger)
        clock = EpochClock(ledger)
        log = RatingLog(here / f"{spec.name}-ratings.sqlite")
        state["log"] = log
        checker = SpotChecker(Reproducer(n_threads=1), account, state["domain"])
        state["checker"] = checker
        spots = SpotService(checker, ledger, spec.spot_check_rate) if spec.spot_check_rate > 0 else None
        state["spots"] = spots
        state["rater"] = Rater(rater_judge, account, state["domain"], log, clock, spots)
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
            thread = threading.Thread(target=settle_loop, name="llmnet-settle", daemon=True)
            thread.start()
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
                "last_error": state.get("last_error"),
                "human_rankings": state["queue"].feed.states() if state["queue"].feed else None,
            }
        return info

    def rate(req: RateRequest) -> RateReply:
        started = time.perf_counter()
        reply: RateReply = state["rater"].rate(req)
        state["last_rate_s"] = time.perf_counter() - started
        return reply

    def settle(req: SettleRequest) -> SettleReply:
        if "queue" not in state:
            raise NotFound("this validator does not settle; send outcomes to the settling validator")
        trusted = frozenset(spec.trusted_coordinators)
        raters = {r["message"].get("validator") for o in req.outcomes for r in o.ratings if "message" in r}
        weights = state["queue"].keeper.weights(need=[str(v) for v in raters if isinstance(v, str)])
        checked = []
        for o in req.outcomes:
            if o.coordinator not in trusted:
                raise SignatureError(f"outcome from {o.coordinator}, which is not a trusted coordinator")
            checked.append(verify_outcome(o, state["domain"], frozenset(weights)))
        accepted = state["queue"].add(checked)
        return SettleReply(accepted=accepted, queued=state["queue"].queued())

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
    def settlement(task_id: Annotated[int, PathParam(lt=2**63)]) -> dict[str, Any]:  # as sqlite stores it
        result: dict[str, Any] = state["queue"].status(task_id)
        return result

    @app.post("/v1/settlements/query")
    def settlements(task_ids: list[StrictInt]) -> list[dict[str, Any]]:
        """Many tasks' settlement states in one call (unknown tasks are left out)."""
        queue: SettlementQueue = state["queue"]
        return queue.statuses(task_ids[:1000])

    return HotRoutes(app, {"/v1/rate": threaded_json(RateRequest, rate),
                           "/v1/settle": threaded_json(SettleRequest, settle)})  # fmt: skip
