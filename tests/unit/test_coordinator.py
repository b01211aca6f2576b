"""The coordinator's logic against an in-memory network.

The only seam is the HTTP client: ``httpx.MockTransport`` routes ``http://rN.test/v1/respond``
to a real :class:`Respondent` (on a scripted :class:`FakeBackend`) and ``http://vN.test/v1/rate``
to a real :class:`Rater` (on a :class:`FakeJudge`, behind its :class:`RatingGate`), so every
assignment, response and rating is really signed and verified. No chain, no sockets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx
import pytest

from llmnet.api.errors import error_body, status_for
from llmnet.api.http_client import HttpxClient
from llmnet.backends.base import GenerationRequest
from llmnet.backends.fake import FakeBackend
from llmnet.chain.network import dev_account
from llmnet.errors import LlmnetError, NoRespondents, SignatureError
from llmnet.reputation.beta import UNIT, RepState
from llmnet.reputation.selection import Greedy
from llmnet.roles.coordinator import Coordinator, CoordinatorSettings, TaskRun
from llmnet.roles.judge import FakeJudge
from llmnet.roles.protocol import Message, RateRequest, RespondPayload, RespondRequest
from llmnet.roles.rating_gate import RatingGate, RegisteredProviders
from llmnet.roles.receipt import receipt_of
from llmnet.roles.respondent import Respondent
from llmnet.roles.streaming import synthesize
from llmnet.roles.validator import Rater
from llmnet.signing import Rating, SignedMessage, SigningDomain, TaskAssignment, sign, verify
from llmnet.store import canonical_json, content_hash
from llmnet.types import Candidate

SIGNING = SigningDomain(chain_id=1337, verifying_contract="0x5FbDB2315678afecb367f032d93F642f64180aa3")
COORDINATOR = dev_account(8)
RESPONDENTS = {i: dev_account(i) for i in (1, 2, 3, 4)}
VALIDATORS = {i: dev_account(i) for i in (6, 7)}
DEBATE_NOTE = "Other assistants answered"
QUESTION = "What is the capital of France?"


def addr(i: int) -> str:
    return RESPONDENTS[i].address


def answer_of(i: int) -> str:
    return f"Respondent {i} says Paris."


def debating_responder(i: int) -> Callable[[GenerationRequest], str]:
    """Answers ``answer_of(i)``, marked as revised when the request carries the debate note."""

    def respond(request: GenerationRequest) -> str:
        revised = any(m.role == "system" and DEBATE_NOTE in m.content for m in request.messages)
        return f"{answer_of(i)} (revised)" if revised else answer_of(i)

    return respond


def candidate(i: int, quality: int) -> Candidate:
    """Greedy ranks by posterior mean, so a higher ``quality`` (of 10) is asked earlier."""
    return Candidate(addr(i), 10**18, RepState(alpha=quality * UNIT, beta=(10 - quality) * UNIT, count=10))


@dataclass
class FakeDirectory:
    """The coordinator's view of the chain: candidates per domain and their endpoints."""

    by_domain: dict[str, list[Candidate]]
    endpoints: dict[str, str]
    judges: dict[str, str] = field(default_factory=dict)  # validator URL -> its judge's weights hash
    specialists_of: dict[str, frozenset[str]] = field(default_factory=dict)  # domain -> its specialists
    validators: dict[str, str] = field(  # validator URL -> its address in the validator book
        default_factory=lambda: {f"http://v{v}.test": a.address for v, a in VALIDATORS.items()}
    )

    def domains(self) -> list[str]:
        return list(self.by_domain)

    def candidates(self, domain: str) -> list[Candidate]:
        return self.by_domain.get(domain, [])

    def specialists(self, domain: str) -> frozenset[str]:
        return self.specialists_of.get(domain, frozenset())

    def knows(self, domain: str) -> bool:
        return True  # everything is in memory

    def validator_weights(self) -> dict[str, float]:
        return {}  # none staked: ratings count equally

    def judge_weights(self) -> dict[str, str]:
        return self.judges

    def validator_addresses(self) -> dict[str, str]:
        return self.validators

    def validator_address(self, endpoint: str) -> str:
        return self.validators.get(endpoint.rstrip("/"), endpoint)

    def known_endpoint(self, provider: str) -> str | None:
        return self.endpoint(provider)

    def endpoint(self, provider: str) -> str:
        return self.endpoints[provider]

    def served_domains(self) -> list[str]:
        return [d for d in self.domains() if self.candidates(d)]


@dataclass
class Network:
    """Respondents and validators behind one MockTransport handler."""

    respondents: dict[int, Respondent] = field(default_factory=dict)
    raters: dict[int, Rater] = field(default_factory=dict)
    dead: set[int] = field(default_factory=set)  # respondents or validators that refuse connections
    tampered: set[int] = field(default_factory=set)  # reply text altered after signing
    forged_ratings: set[int] = field(default_factory=set)  # rating score altered after signing
    misfiled_ratings: set[int] = field(default_factory=set)  # validly signed, but for another task
    calls: list[str] = field(default_factory=list)

    def backend(self, i: int) -> FakeBackend:
        backend = self.respondents[i].backend
        assert isinstance(backend, FakeBackend)
        return backend

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(str(request.url))
        kind, n = request.url.host[0], int(request.url.host.split(".")[0][1:])
        if n in self.dead:
            raise httpx.ConnectError("connection refused", request=request)
        try:
            if kind == "r" and request.url.path == "/v1/respond":
                return self._respond(request, n)
            if kind == "v" and request.url.path == "/v1/rate":
                return self._rate(request, n)
        except LlmnetError as exc:
            status, error_kind = status_for(exc)
            return httpx.Response(status, json=error_body(str(exc), error_kind, type(exc).__name__))
        return httpx.Response(404, json=error_body(f"no route {request.url}", "not_found_error"))

    def _respond(self, request: httpx.Request, n: int) -> httpx.Response:
        req = RespondRequest.model_validate_json(request.content)
        if req.stream:  # server-sent events, as the respondent service streams them
            assignment = self.respondents[n].check(req)
            events = "".join(self.respondents[n].stream(req, assignment)).encode()
            return httpx.Response(200, content=events, headers={"content-type": "text/event-stream"})
        reply = self.respondents[n].respond(req)
        if n in self.tampered:
            reply = reply.model_copy(update={"text": reply.text + " Actually, Lyon."})
        return httpx.Response(200, json=reply.model_dump())

    def _rate(self, request: httpx.Request, n: int) -> httpx.Response:
        req = RateRequest.model_validate_json(request.content)
        reply = self.raters[n].rate(req)
        if n in self.misfiled_ratings:  # signed again by the validator, for the next task
            rater = self.raters[n]
            misfiled = [SignedMessage.from_dict(r, Rating).message for r in reply.ratings]
            reply.ratings = [
                sign(r.model_copy(update={"task_id": r.task_id + 1}), rater.account, SIGNING).to_dict()
                for r in misfiled
            ]
        if n in self.forged_ratings:
            for rating in reply.ratings:
                rating["message"]["score"] = 1000
        return httpx.Response(200, json=reply.model_dump())


def rating_gate(validator: str) -> RatingGate:
    """What a validator admits: assignments signed by the coordinator, answers of respondents 1-4."""
    registered = {a.address for a in RESPONDENTS.values()}
    providers = RegisteredProviders(registered.__contains__)
    return RatingGate(validator, SIGNING, frozenset({COORDINATOR.address}), providers)


def build_network(scores: Mapping[int, Mapping[int, float]] | None = None) -> Network:
    """Respondents 1-4 and validators 6, 7; ``scores[v][i]`` is validator v's score for respondent i."""
    scores = scores or {}
    trusted = frozenset({COORDINATOR.address})
    net = Network()
    for i, account in RESPONDENTS.items():
        backend = FakeBackend(debating_responder(i), model_id=f"fake-{i}")
        net.respondents[i] = Respondent(backend, account, SIGNING, trusted)
    for v, account in VALIDATORS.items():
        judge = FakeJudge({addr(i): s for i, s in scores.get(v, {}).items()})
        net.raters[v] = Rater(judge, account, SIGNING, gate=rating_gate(account.address))
    return net


def directory_of(ranked: list[int], endpoints: Mapping[int, int] | None = None) -> FakeDirectory:
    """Candidates that Greedy ranks in the order ``ranked``; listed in reverse so the policy must sort.

    ``endpoints`` maps a respondent to the respondent whose URL the directory gives for it.
    """
    endpoints = endpoints or {}
    cands = [candidate(i, quality=9 - pos) for pos, i in enumerate(ranked)]
    urls = {addr(i): f"http://r{endpoints.get(i, i)}.test" for i in RESPONDENTS}
    return FakeDirectory({"general": list(reversed(cands))}, urls)


def new_run(k: int, rounds: int, task_key: int = 42, domain: str = "general") -> TaskRun:
    requester = dev_account(9).address
    messages = [Message(role="user", content=QUESTION)]
    return TaskRun(task_key=task_key, domain=domain, requester=requester, messages=messages, k=k, rounds=rounds)


def run_task(
    net: Network, directory: FakeDirectory, *, k: int = 2, rounds: int = 0, validators: tuple[int, ...] = (6, 7),
    domain: str = "general",
) -> TaskRun:  # fmt: skip
    async def go() -> TaskRun:
        async with httpx.AsyncClient(transport=httpx.MockTransport(net.handler)) as client:
            http = HttpxClient(client)
            coordinator = Coordinator(
                directory,  # type: ignore[arg-type]
                Greedy(),
                COORDINATOR,
                SIGNING,
                [f"http://v{v}.test" for v in validators],
                CoordinatorSettings(k=k, rounds=rounds, respondent_timeout_s=5.0, rating_timeout_s=5.0),
                http,
                seed=0,
            )
            return await coordinator.run(new_run(k, rounds, domain=domain), max_tokens=64)

    return asyncio.run(go())


def providers(cands: list[Candidate]) -> list[str]:
    return [c.provider for c in cands]


# ------------------------------------------------------------------ replacing failed respondents


def test_a_dead_first_choice_is_replaced_by_the_next_candidate() -> None:
    net = build_network()
    net.dead = {1}
    run = run_task(net, directory_of([1, 2, 3, 4]), k=2)

    assert providers(run.chosen) == [addr(1), addr(2), addr(3)]
    assert set(run.answers) == {addr(2), addr(3)}
    assert {who: a.text for who, a in run.answers.items()} == {addr(2): answer_of(2), addr(3): answer_of(3)}
    assert list(run.failed) == [addr(1)]
    assert run.failed[addr(1)].startswith("BackendUnavailable") and "ConnectError" in run.failed[addr(1)]
    assert net.backend(4).requests == []  # k answers were enough; the fourth was never asked


def test_when_every_candidate_fails_no_respondents_names_how_many_were_tried() -> None:
    net = build_network()
    net.dead = {1, 2, 3}
    directory = directory_of([1, 2, 3])
    directory.endpoints.pop(addr(4))

    with pytest.raises(NoRespondents, match=r"none of the 3 respondents tried for domain 'general' answered"):
        run_task(net, directory, k=2)


def test_a_domain_without_candidates_raises_no_respondents() -> None:
    directory = FakeDirectory({"general": []}, {})
    with pytest.raises(NoRespondents, match="serves domain 'general'"):
        run_task(build_network(), directory)


# ------------------------------------------------------------------ debate


def test_each_respondent_sees_the_others_previous_answers_but_not_its_own() -> None:
    net = build_network()
    run = run_task(net, directory_of([1, 2, 3]), k=3, rounds=1)

    assert len(run.history) == 2
    assert run.history[0] == {addr(i): answer_of(i) for i in (1, 2, 3)}
    assert run.history[1] == {addr(i): f"{answer_of(i)} (revised)" for i in (1, 2, 3)}
    for i in (1, 2, 3):
        first, second = net.backend(i).requests
        assert [m.role for m in first.messages] == ["user"]
        notes = [m.content for m in second.messages if m.role == "system"]
        assert len(notes) == 1 and DEBATE_NOTE in notes[0]
        assert answer_of(i) not in notes[0]
        for peer in {1, 2, 3} - {i}:
            assert answer_of(peer) in notes[0]
        assert second.messages[-1].content == QUESTION  # the question stays the last user turn


def test_debate_is_skipped_when_only_one_respondent_answered() -> None:
    net = build_network()
    net.dead = {2, 3, 4}
    run = run_task(net, directory_of([1, 2, 3, 4]), k=2, rounds=2)

    assert len(run.history) == 1
    assert len(net.backend(1).requests) == 1


# ------------------------------------------------------------------ rating and the final answer


def test_scores_are_the_median_of_verified_ratings_and_the_best_answer_wins() -> None:
    # validator 6 prefers 1, validator 7 prefers 2 strongly: the medians favour 2
    net = build_network({6: {1: 8, 2: 7}, 7: {1: 4, 2: 9}})
    run = run_task(net, directory_of([1, 2]), k=2)

    assert run.scores == {addr(1): 6.0, addr(2): 8.0}
    assert run.final_respondent == addr(2)
    assert run.final == answer_of(2)
    assert len(run.ratings) == 4
    for data in run.ratings:
        signed = SignedMessage.from_dict(data, Rating)
        assert verify(signed, SIGNING) in {v.address for v in VALIDATORS.values()}
        assert signed.message.task_id == 42
        assert signed.message.response_hash == content_hash(run.answers[signed.message.respondent].text.encode())


def test_a_tie_goes_to_the_higher_ranked_respondent_every_time() -> None:
    for ranked in ([1, 2, 3], [3, 2, 1], [2, 3, 1]):
        winners = {run_task(build_network({6: {}, 7: {}}), directory_of(ranked), k=3).final_respondent for _ in "ab"}
        assert winners == {addr(ranked[0])}


def test_an_unreachable_validator_is_left_out_of_the_median() -> None:
    net = build_network({6: {1: 3, 2: 9}, 7: {1: 10, 2: 1}})
    net.dead = {7}
    run = run_task(net, directory_of([1, 2]), k=2)

    assert run.scores == {addr(1): 3.0, addr(2): 9.0}
    assert run.final_respondent == addr(2)


def test_a_validator_with_a_forged_rating_is_left_out_not_fatal() -> None:
    net = build_network({6: {1: 9, 2: 3}, 7: {1: 2, 2: 2}})
    net.forged_ratings = {7}
    run = run_task(net, directory_of([1, 2]), k=2)

    assert run.scores == {addr(1): 9.0, addr(2): 3.0}
    assert {r["message"]["validator"] for r in run.ratings} == {VALIDATORS[6].address}


def test_ratings_for_another_task_are_not_counted() -> None:
    net = build_network({6: {1: 9, 2: 3}, 7: {1: 1, 2: 10}})
    net.misfiled_ratings = {7}
    run = run_task(net, directory_of([1, 2]), k=2)

    assert {r["message"]["task_id"] for r in run.ratings} == {42}
    assert run.scores == {addr(1): 9.0, addr(2): 3.0}


# ------------------------------------------------------------------ refusing bad replies and bad assignments


def test_a_reply_whose_text_does_not_match_its_signed_hash_counts_as_a_failure() -> None:
    net = build_network()
    net.tampered = {1}
    run = run_task(net, directory_of([1, 2, 3]), k=2)

    assert addr(1) not in run.answers
    assert set(run.answers) == {addr(2), addr(3)}
    assert run.failed[addr(1)].startswith("InputError")
    assert "signed a different text" in run.failed[addr(1)]


def test_a_respondent_refuses_a_task_addressed_to_another() -> None:
    net = build_network()
    payload = RespondPayload(messages=[Message(role="user", content=QUESTION)])
    assignment = TaskAssignment(
        task_id=1, coordinator=COORDINATOR.address, respondent=addr(1), content_hash=payload.digest(),
        round=0, deadline=int(time.time()) + 60,
    )  # fmt: skip
    request = RespondRequest(assignment=sign(assignment, COORDINATOR, SIGNING).to_dict(), payload=payload)

    assert net.respondents[1].check(request) == assignment
    with pytest.raises(SignatureError, match="not to this respondent"):
        net.respondents[2].check(request)


def test_the_coordinator_sees_a_misaddressed_respondent_refuse() -> None:
    net = build_network()
    directory = directory_of([1, 2, 3], endpoints={1: 4})  # 1's endpoint is really 4's server
    run = run_task(net, directory, k=2)

    assert "403" in run.failed[addr(1)]
    assert set(run.answers) == {addr(2), addr(3)}
    assert net.backend(4).requests == []  # refused before generating


# ------------------------------------------------------------------ the receipt


def test_the_receipt_lists_every_chosen_respondent_and_hashes_stably() -> None:
    net = build_network({6: {2: 7, 3: 8}, 7: {2: 5, 3: 8}})
    net.dead = {1}
    run = run_task(net, directory_of([1, 2, 3]), k=2)

    receipt = receipt_of(run, fee=10**15, chain_id=1337)
    rows = {row["address"]: row for row in receipt["respondents"]}
    assert [row["address"] for row in receipt["respondents"]] == [addr(1), addr(2), addr(3)]
    assert rows[addr(1)] | {"failure": None} == {
        "address": addr(1), "reputation_mean": round(10 / 12, 4), "answered": False,
        "failure": None, "score": None, "model_id": None, "sources": [], "response_hash": None, "late_in_rounds": [],
    }  # fmt: skip
    assert rows[addr(1)]["failure"].startswith("BackendUnavailable") and "ConnectError" in rows[addr(1)]["failure"]
    for i, score in ((2, 6.0), (3, 8.0)):
        assert rows[addr(i)]["answered"] is True
        assert rows[addr(i)]["failure"] is None
        assert rows[addr(i)]["score"] == score
        assert rows[addr(i)]["model_id"] == f"fake-{i}"
        assert rows[addr(i)]["sources"] == []
        assert rows[addr(i)]["response_hash"] == content_hash(answer_of(i).encode())
    assert receipt["final_respondent"] == addr(3)
    assert receipt["answer_hash"] == content_hash(answer_of(3).encode())
    assert receipt["validators"] == sorted(v.address for v in VALIDATORS.values())
    assert receipt["rounds"] == 0 and receipt["chain_id"] == 1337 and receipt["fee_wei"] == 10**15
    assert receipt["unrated_validators"] == [] and receipt["cooling_validators"] == []

    again = receipt_of(run, fee=10**15, chain_id=1337)
    assert content_hash(canonical_json(again)) == content_hash(canonical_json(receipt))


def test_a_single_respondent_is_asked_once_then_rated_once() -> None:
    net = build_network({6: {1: 7}})
    run = run_task(net, directory_of([1]), k=1, validators=(6,))
    assert [r["message"]["score"] for r in run.ratings] == [700]
    assert run.final == answer_of(1)
    assert net.calls == ["http://r1.test/v1/respond", "http://v6.test/v1/rate"]


# ------------------------------------------------------------------ synthesis


def test_synthesis_streams_the_top_rated_respondents_revision_of_all_answers() -> None:
    net = build_network({6: {1: 4, 2: 9}, 7: {1: 5, 2: 8}})

    async def go() -> tuple[TaskRun, list[str]]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(net.handler)) as client:
            http = HttpxClient(client)
            coordinator = Coordinator(
                directory_of([1, 2]),  # type: ignore[arg-type]
                Greedy(),
                COORDINATOR,
                SIGNING,
                ["http://v6.test", "http://v7.test"],
                CoordinatorSettings(k=2, rounds=0, respondent_timeout_s=5.0, rating_timeout_s=5.0),
                http,
                seed=0,
            )
            run = await coordinator.run(new_run(2, 0), max_tokens=64)
            pieces = [delta async for delta in synthesize(coordinator, run, 64)]
            return run, pieces

    run, pieces = asyncio.run(go())
    assert run.final_respondent == addr(2)
    assert len(pieces) > 1  # streamed, not delivered whole
    assert "".join(pieces).strip() == f"{answer_of(2)} (revised)" == run.final
    note = [m.content for m in net.backend(2).requests[-1].messages if m.role == "system"]
    assert len(note) == 1 and answer_of(1) in note[0] and answer_of(2) in note[0]


# ------------------------------------------------------------------ judge bias controls


class DomainJudge(FakeJudge):
    """A fake judge that checks answers against a domain's documents: it records the domains it is given."""

    reads_domain = True

    def __init__(self) -> None:
        super().__init__(default=6)
        self.domains: list[str | None] = []

    def rate(self, question: str, answers: Mapping[str, str], reference: str | None = None,
             *, domain: str | None = None) -> dict[str, float]:  # fmt: skip
        self.domains.append(domain)
        return super().rate(question, answers, reference)


def test_validators_are_told_the_question_s_domain() -> None:
    net = build_network()
    judge = DomainJudge()
    net.raters[6].judge = judge
    directory = directory_of([1, 2])
    directory.by_domain["law"] = directory.by_domain.pop("general")
    run = run_task(net, directory, k=2, domain="law")
    assert judge.domains == ["law"]
    assert {r["message"]["validator"] for r in run.ratings} == {VALIDATORS[6].address, VALIDATORS[7].address}


def test_a_validator_never_judges_a_respondent_running_its_own_weights() -> None:
    net = build_network({6: {1: 9, 2: 3}, 7: {1: 4, 2: 8}})
    net.backend(1).weights_sha256 = "ab" * 32
    directory = directory_of([1, 2])
    directory.judges = {"http://v6.test": "0x" + "ab" * 32}
    run = run_task(net, directory, k=2)

    def rated_by(v: int) -> set[str]:
        return {r["message"]["respondent"] for r in run.ratings if r["message"]["validator"] == VALIDATORS[v].address}

    assert rated_by(6) == {addr(2)}  # its own model family's answer was never shown to it
    assert rated_by(7) == {addr(1), addr(2)}
    assert run.scores[addr(1)] == 4.0  # validator 7's score alone
    assert run.scores[addr(2)] == 5.5


def test_a_validator_whose_weights_match_every_answer_is_not_asked() -> None:
    net = build_network({6: {1: 9}, 7: {1: 4}})
    net.backend(1).weights_sha256 = "ab" * 32
    directory = directory_of([1])
    directory.judges = {"http://v6.test": "0x" + "ab" * 32}
    run = run_task(net, directory, k=1)
    assert not any("v6.test" in call for call in net.calls)
    assert run.scores == {addr(1): 4.0}
