"""The coordinator: who chooses respondents, runs the debate, and returns the best answer.

For each query: the domain (from the model name or a classifier), the
candidates of that domain with stake and reputation read from the chain, a
ranking by the selection policy (Thompson sampling by default, so newcomers
still get tried), then ``k`` respondents asked in parallel, each with its own
deadline. A respondent that fails or is late is replaced by the next
candidate. Rounds of collaborative prompting follow (each respondent sees the
others' previous answers and may revise); validators rate the final answers;
the best-rated answer (or a synthesis by the top-rated respondent) is
returned with a receipt. The accountant records the task on chain later.

No task waits on the slowest peer (see :mod:`llmnet.roles.peers`): once a
quorum of validators rated (or of respondents revised), the others get a short
grace; a validator that misses is skipped for a cool-down, a respondent that
misses is ranked last during its cool-down, and a respondent that does not
revise in time keeps its previous answer. The receipt names them.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from eth_account.signers.local import LocalAccount

from llmnet.api.http_client import HttpClient
from llmnet.defaults import (
    DEFAULT_K,
    DEFAULT_MAX_TOKENS,
    DEFAULT_ROUNDS,
    AnswerTokens,
    DebateRounds,
    RespondentsPerTask,
)
from llmnet.errors import InputError, LlmnetError, NoRespondents
from llmnet.reputation.consensus import robust_consensus
from llmnet.reputation.selection import SelectionPolicy
from llmnet.reputation.specialists import specialists_first
from llmnet.roles.collaboration import CollaborationSettings, LeadRecord, adaptive, rated_answers
from llmnet.roles.directory import Directory
from llmnet.roles.gathering import gather_quorum
from llmnet.roles.peers import Breaker, PeerDeadlines
from llmnet.roles.protocol import Message, PeerAnswer, RatedAnswer, RateRequest, RespondPayload, RespondReply
from llmnet.roles.streaming import spent
from llmnet.signing import (
    Rating,
    RatingAssignment,
    Response,
    SignedMessage,
    SigningDomain,
    TaskAssignment,
    sign,
    verify,
)
from llmnet.store import content_hash
from llmnet.types import ZERO_HASH, Candidate


@dataclass
class Answer:
    respondent: str
    endpoint: str
    reply: RespondReply
    payload: RespondPayload | None = None  # what it was asked

    @property
    def text(self) -> str:
        return self.reply.text


@dataclass
class TaskRun:
    """Everything that happened for one query; becomes the receipt."""

    task_key: int
    domain: str
    requester: str
    messages: list[Message]
    k: int
    rounds: int
    chosen: list[Candidate] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)
    history: list[dict[str, str]] = field(default_factory=list)
    ratings: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    final: str = ""
    final_respondent: str = ""
    reference: str | None = None  # a known answer, when the coordinator has one, for validators
    validator_weights: dict[str, float] = field(default_factory=dict)  # stake x trust when rated
    gold: dict[str, float] | None = None  # a gold task: each answer's true score (1-10), by its known answer
    started: float = field(default_factory=time.time)
    temperature: float = 0.0  # sampling asked by the requester; 0 (the default) is deterministic
    seed: int = 0
    late: dict[str, list[int]] = field(default_factory=dict)  # respondent -> debate rounds it kept its answer in
    unrated_validators: list[str] = field(default_factory=list)  # asked, but no usable rating in time
    cooling_validators: list[str] = field(default_factory=list)  # not asked: cooling down after a miss
    adaptive: bool = False  # answered by roles.collaboration.adaptive rather than k at once
    trusted_lead: bool = False  # adaptive, and its lead was proven enough to answer alone
    escalated: list[str] = field(default_factory=list)  # what an adaptive task added, and why
    respondent_tokens: int = 0  # prompt + completion tokens of every generation the task asked for

    @property
    def fee_units(self) -> int:
        """Respondents the requester pays for: k, or for an adaptive task those that answered."""
        return max(1, min(self.k, len(self.answers))) if self.adaptive else self.k


class CoordinatorSettings(PeerDeadlines, CollaborationSettings):
    """What a coordinator does with each task; the one home of these defaults and limits
    (its spec, :class:`llmnet.api.openai_app.CoordinatorSpec`, is built on this class)."""

    k: RespondentsPerTask = DEFAULT_K
    rounds: DebateRounds = DEFAULT_ROUNDS
    final: Literal["best", "synthesis"] = "best"
    max_tokens: AnswerTokens = DEFAULT_MAX_TOKENS


class Coordinator:
    def __init__(
        self,
        directory: Directory,
        policy: SelectionPolicy,
        account: LocalAccount,
        domain: SigningDomain,
        validators: Sequence[str] | None,  # None: every validator in good standing on chain; []: none
        settings: CoordinatorSettings,
        http: HttpClient,
        seed: int | None = None,
    ) -> None:
        self.directory, self.policy, self.account = directory, policy, account
        self.signing, self.settings, self.http = domain, settings, http
        self.validators = list(validators) if validators is not None else None
        self.rng = np.random.default_rng(seed)
        self.respondent_health, self.validator_health = Breaker(settings), Breaker(settings)
        self.leads = LeadRecord(settings)  # how each respondent's lone answers fared, per domain

    # ------------------------------------------------------------- one respondent
    def _assignment(self, run: TaskRun, respondent: str, payload: RespondPayload) -> dict[str, Any]:
        a = TaskAssignment(
            task_id=run.task_key, coordinator=self.account.address, respondent=respondent,
            content_hash=payload.digest(), round=payload.round,
            deadline=int(time.time() + self.settings.respondent_timeout_s) + 1,
        )  # fmt: skip
        return sign(a, self.account, self.signing).to_dict()

    def payload(self, run: TaskRun, round_: int, peers: list[PeerAnswer], max_tokens: int) -> RespondPayload:
        return RespondPayload(messages=run.messages, peers=peers, round=round_, max_tokens=max_tokens,
                              temperature=run.temperature, seed=run.seed)  # fmt: skip

    async def _endpoint(self, respondent: str) -> str:
        known = self.directory.known_endpoint(respondent)
        return known if known is not None else await asyncio.to_thread(self.directory.endpoint, respondent)

    async def ask(self, run: TaskRun, respondent: str, payload: RespondPayload) -> Answer:
        endpoint = await self._endpoint(respondent)
        body = {"assignment": self._assignment(run, respondent, payload), "payload": payload.model_dump()}
        reply = await self.http.post_json(f"{endpoint}/v1/respond", body, self.settings.respondent_timeout_s)
        answer = self._answer(respondent, endpoint, reply)
        answer.payload = payload
        return answer

    async def _try(self, run: TaskRun, respondent: str, payload: RespondPayload) -> Answer | None:
        run.tried.append(respondent)
        try:
            answer = await asyncio.wait_for(self.ask(run, respondent, payload), self.settings.respondent_timeout_s)
        except (TimeoutError, LlmnetError, ValueError, KeyError) as exc:
            run.failed[respondent] = f"{type(exc).__name__}: {exc}"[:300]
            self.respondent_health.missed(respondent)
            return None
        self.respondent_health.succeeded(respondent)
        run.respondent_tokens += spent(answer)
        return answer

    async def fill(self, run: TaskRun, queue: list[Candidate], payload: RespondPayload, n: int) -> dict[str, Answer]:
        """Round 0: ``n`` answers, replacing any respondent that fails with the next candidate."""
        answers: dict[str, Answer] = {}
        slots = [queue.pop(0) for _ in range(min(n, len(queue)))]
        run.chosen.extend(slots)
        while slots:
            results = await asyncio.gather(*(self._try(run, c.provider, payload) for c in slots))
            slots = []
            for answer in results:
                if answer is not None:
                    answers[answer.respondent] = answer
                elif queue:
                    replacement = queue.pop(0)
                    run.chosen.append(replacement)
                    slots.append(replacement)
        return answers

    # ------------------------------------------------------------- a whole task
    def rank(self, domain: str) -> list[Candidate]:
        candidates = self.directory.candidates(domain)
        if not candidates:
            raise NoRespondents(f"no provider with enough stake serves domain {domain!r}")
        return specialists_first(self.policy.rank(candidates, self.rng), self.directory.specialists(domain))

    async def _ranked(self, domain: str) -> list[Candidate]:
        # a cached domain ranks in microseconds; only a chain read goes to a thread
        return self.rank(domain) if self.directory.knows(domain) else await asyncio.to_thread(self.rank, domain)

    async def queue(self, run: TaskRun) -> list[Candidate]:
        """The domain's candidates best first, those cooling down after a miss last."""
        return self.respondent_health.cooling_last(await self._ranked(run.domain), lambda c: c.provider)

    def require_answers(self, run: TaskRun, answers: dict[str, Answer]) -> None:
        if not answers:
            raise NoRespondents(
                f"none of the {len(run.tried)} respondents tried for domain {run.domain!r} answered: "
                + "; ".join(f"{who[:10]}… {why}" for who, why in run.failed.items())
            )

    async def run(self, run: TaskRun, max_tokens: int, queue: list[Candidate] | None = None) -> TaskRun:
        """Answer ``run`` (ranking its domain's candidates unless ``queue`` gives them, best first)."""
        queue = queue if queue is not None else await self.queue(run)
        if run.adaptive:
            await adaptive(self, run, max_tokens, queue)
            return run
        answers = await self.fill(run, queue, self.payload(run, 0, [], max_tokens), run.k)
        self.require_answers(run, answers)
        run.history.append({who: a.text for who, a in answers.items()})
        for round_ in range(1, run.rounds + 1):
            if len(answers) < 2:
                break
            answers = await self.debate_round(run, answers, round_, max_tokens)
            run.history.append({who: a.text for who, a in answers.items()})
        run.answers = answers
        await self.rate(run)
        if len(run.history) == 1:  # no debate: each answer was given alone
            self.note_first_answers(run)
        return run

    def note_first_answers(self, run: TaskRun) -> None:
        """Tell the lead record how the rated answers of ``run``, all given alone, fared."""
        self.leads.note_rated(run.domain, rated_answers(run).values())

    async def debate_round(
        self, run: TaskRun, answers: dict[str, Answer], round_: int, max_tokens: int
    ) -> dict[str, Answer]:
        """Each respondent sees the others' answers and may revise its own; one that is late keeps
        its previous answer."""

        async def revise(who: str) -> Answer | None:
            peers = [PeerAnswer(respondent=o, text=a.text) for o, a in answers.items() if o != who]
            return await self._try(run, who, self.payload(run, round_, peers, max_tokens))

        got = await gather_quorum({who: revise(who) for who in answers}, self.settings.respondent_timeout_s,
                                  self.settings)  # fmt: skip
        for who in got.late:  # not revised in time: its previous answer stands
            run.late.setdefault(who, []).append(round_)
            self.respondent_health.missed(who)
        kept = {who: answers[who] for who in got.late}
        revised = {who: a for who in answers if (a := got.done.get(who) or kept.get(who)) is not None}
        return revised or answers

    # ------------------------------------------------------------- rating
    async def _rate_with(self, run: TaskRun, validator_url: str, req: RateRequest) -> list[dict[str, Any]]:
        """One validator's ratings of this round's answers; anything unusable leaves it out of the median."""
        try:
            reply = await self.http.post_json(
                f"{validator_url}/v1/rate", req.model_dump(), self.settings.rating_timeout_s
            )
            ratings = [SignedMessage.from_dict(r, Rating) for r in reply["ratings"]]
            signers = {verify(r, self.signing) for r in ratings}
        except (LlmnetError, ValueError, KeyError, TypeError):
            return []
        if len(signers) != 1:  # one validator, one key: it may not speak for others
            return []
        answered = {who: a.reply.response["message"]["content_hash"] for who, a in run.answers.items()}
        return [
            r.to_dict()
            for r in ratings
            if r.message.task_id == run.task_key
            and r.message.round == req.round
            and answered.get(r.message.respondent) == r.message.response_hash
        ]

    def _assigned(self, req: RateRequest, validator: str) -> RateRequest:
        """``req`` with the signed assignment that lets ``validator`` rate it (see roles.rating_gate)."""
        a = RatingAssignment(
            task_id=req.task_id, coordinator=self.account.address, validator=validator, content_hash=req.digest(),
            round=req.round, deadline=int(time.time() + self.settings.rating_timeout_s) + 1,
        )  # fmt: skip
        return req.model_copy(update={"assignment": sign(a, self.account, self.signing).to_dict()})

    def validator_urls(self) -> list[str]:
        """The validators to ask: those given, else every one in good standing in the validator
        book, as the directory last read it (one that joins or unstakes is seen within a refresh)."""
        return self.validators if self.validators is not None else self.directory.active_validators()

    def rating_requests(self, run: TaskRun) -> dict[str, RateRequest]:
        """What each validator is asked to rate: every answer except those from a respondent that
        runs the same model weights (by hash) as the validator's judge, which would favour its own.
        A validator missing from the validator book is not asked: no assignment can name it."""
        judges = self.directory.judge_weights()
        addresses = self.directory.validator_addresses()
        answers = [
            RatedAnswer(respondent=a.respondent, text=a.text, response=a.reply.response, request=a.payload)
            for a in run.answers.values()
        ]
        requests = {}
        for url in self.validator_urls():
            own = judges.get(url.rstrip("/"), ZERO_HASH)
            mine = [a for a in answers if own == ZERO_HASH or a.response["message"]["weights_hash"] != own]
            validator = addresses.get(url.rstrip("/"))
            if mine and validator is not None:
                req = RateRequest(task_id=run.task_key, round=len(run.history) - 1, domain=run.domain,
                                  question=run.messages[-1].content, answers=mine, reference=run.reference)  # fmt: skip
                requests[url] = self._assigned(req, validator)
        return requests

    async def _collect_ratings(self, run: TaskRun) -> None:
        """Ask the validators not cooling down; keep the ratings that arrive before the cut-off."""
        asks = self.rating_requests(run)
        admitted = {url: req for url, req in asks.items() if self.validator_health.admit(url)}
        calls = {url: self._rate_with(run, url, req) for url, req in admitted.items()}
        got = await gather_quorum(calls, self.settings.rating_timeout_s, self.settings)
        for url in admitted:  # an empty list: late, unreachable, or nothing usable
            (self.validator_health.succeeded if got.done.get(url) else self.validator_health.missed)(url)
        run.ratings = [r for url in admitted for r in got.done.get(url, [])]
        address = self.directory.validator_address
        # an adaptive task rates more than once: a validator named once stays named
        unrated = [address(url) for url in admitted if not got.done.get(url)]
        cooling = [address(url) for url in asks if url not in admitted]
        run.unrated_validators += [v for v in unrated if v not in run.unrated_validators]
        run.cooling_validators += [v for v in cooling if v not in run.cooling_validators + run.unrated_validators]

    async def rate(self, run: TaskRun) -> None:
        if self.validators is None or self.validators:
            await self._collect_ratings(run)
        table: dict[str, dict[str, float]] = {}
        for r in run.ratings:
            msg = r["message"]
            table.setdefault(msg["validator"], {})[msg["respondent"]] = msg["score"] / 100
        weights = self.directory.validator_weights()
        run.validator_weights = {v: weights.get(v, 0.0) for v in table}
        run.scores = robust_consensus(table, run.validator_weights).scores if table else {}
        ranked = sorted(run.answers, key=lambda who: run.scores.get(who, 0.0), reverse=True)
        run.final_respondent = ranked[0]
        run.final = run.answers[ranked[0]].text

    def _answer(self, respondent: str, endpoint: str, event: dict[str, Any]) -> Answer:
        reply = RespondReply(response=event["response"], text=event["text"], sources=event.get("sources", []))
        signed = SignedMessage.from_dict(reply.response, Response)
        verify(signed, self.signing, expected_signer=respondent)
        if signed.message.content_hash != content_hash(reply.text.encode()):
            raise InputError(f"respondent {respondent} signed a different text than it sent")
        return Answer(respondent, endpoint, reply)


def new_task_key() -> int:
    return int.from_bytes(os.urandom(16), "big")
