"""Calls through an OpenAI-compatible endpoint: Retry-After honoured and capped, 5xx and timeouts
retried with backoff and routed to another model or endpoint, budgets refused before the call."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from llmnet.agents import Budget, CallSpec, CostManager, NetworkLLM, RetryPolicy
from llmnet.agents.client import CallEvents
from llmnet.agents.costs import estimate_call
from llmnet.agents.routing import Route, RouteBook, backoff_delay, parse_retry_after, routes_for
from llmnet.errors import BackendUnavailable, BudgetExceeded, CoordinatorRefused, InputError
from tests.fake_coordinator import FakeCoordinator, serve_fake_coordinator

ASK = [{"role": "user", "content": "what is a light year"}]


def answer(model: str, messages: list[dict[str, str]]) -> str:
    return f"answer from {model}"


class Clock:
    """A clock that sleeping moves forward, so waits are recorded, not spent."""

    def __init__(self) -> None:
        self.now, self.waits = 0.0, []  # type: ignore[var-annotated]

    def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 3))
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> FakeCoordinator:
    return FakeCoordinator(answer)


@pytest.fixture
def url(fake: FakeCoordinator) -> Iterator[str]:
    with serve_fake_coordinator(fake) as base:
        yield base


def client(urls: list[str], budget: Budget | None = None, clock: Clock | None = None, **policy: float) -> NetworkLLM:
    clock = clock or Clock()
    costs = CostManager(budget or Budget(), fee_per_respondent_wei=10**13)
    return NetworkLLM(urls, "sk-test", costs, RetryPolicy(**policy), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]


def test_backoff_doubles_up_to_its_cap_and_retry_after_wins_up_to_its_own_cap() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=4, retry_after_cap_s=30)
    assert [backoff_delay(policy, n, None) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]
    assert backoff_delay(policy, 1, 5.177) == 5.177
    assert backoff_delay(policy, 1, 3600) == 30


def test_retry_after_is_read_as_seconds_milliseconds_or_a_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after({"Retry-After": "7"}) == 7
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"Retry-After": "Thu, 01 Jan 2026 12:00:10 GMT"}, now) == 10
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_the_route_book_moves_to_a_rested_route_and_waits_only_when_all_rest() -> None:
    routes = routes_for(["http://a/v1", "http://b/v1"], ["llmnet/law", "llmnet/general"])
    assert routes[:2] == [Route("http://a/v1", "llmnet/law"), Route("http://b/v1", "llmnet/law")]
    book = RouteBook(routes[:2], RetryPolicy(base_delay_s=1))
    assert book.next(0) == (routes[0], 0)
    book.failed(routes[0], 0, retry_after=5)
    assert book.next(0) == (routes[1], 0)
    book.failed(routes[1], 0)
    assert book.next(0) == (routes[1], 1)  # the one that rests least
    book.gone(routes[1])
    assert book.next(0) == (routes[0], 5) and book.not_before[routes[1]] == math.inf
    book.gone(routes[0])
    assert book.next(0) is None


def test_a_429_with_retry_after_is_waited_out_and_the_call_succeeds(fake: FakeCoordinator, url: str) -> None:
    fake.refuse = lambda n, model: (429, {"Retry-After": "2.5"}) if n <= 2 else None
    clock = Clock()
    retries: list[str] = []
    llm = client([url], clock=clock)
    llm.events = CallEvents(on_retry=lambda route, error, wait: retries.append(f"{error} {wait}"))
    reply = llm.ask("Ask", ASK, CallSpec(models=("llmnet/general",)))
    assert reply.text == "answer from llmnet/general" and reply.attempts == 3
    assert clock.waits == [2.5, 2.5] and len(fake.requests) == 3
    assert retries == ["429 refused with 429 2.5"] * 2
    assert llm.costs.total_wei == 10**13 and len(llm.costs.calls) == 1  # refused calls cost nothing


def test_a_long_retry_after_is_capped(fake: FakeCoordinator, url: str) -> None:
    fake.refuse = lambda n, model: (429, {"Retry-After": "3600"}) if n == 1 else None
    clock = Clock()
    client([url], clock=clock, retry_after_cap_s=20).ask("Ask", ASK, CallSpec(models=("llmnet/general",)))
    assert clock.waits == [20]


def test_a_failing_model_is_routed_around_at_once(fake: FakeCoordinator, url: str) -> None:
    fake.refuse = lambda n, model: (503, {}) if model == "llmnet/medicine" else None
    clock = Clock()
    reply = client([url], clock=clock).ask("Ask", ASK, CallSpec(models=("llmnet/medicine", "llmnet/general")))
    assert reply.route.model == "llmnet/general" and clock.waits == []
    assert [r["model"] for r in fake.requests] == ["llmnet/medicine", "llmnet/general"]


def test_an_unknown_model_is_skipped_and_a_dead_endpoint_routed_around(fake: FakeCoordinator, url: str) -> None:
    dead = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
    reply = client([dead, url]).ask("Ask", ASK, CallSpec(models=("llmnet/nosuch", "llmnet/general")))
    assert reply.route == Route(url, "llmnet/general")
    assert [r["model"] for r in fake.requests] == ["llmnet/nosuch", "llmnet/general"]


def test_5xx_everywhere_gives_up_after_the_attempts_with_backoff(fake: FakeCoordinator, url: str) -> None:
    fake.refuse = lambda n, model: (500, {})
    clock = Clock()
    with pytest.raises(BackendUnavailable, match="failed on every route after 4 attempts"):
        client([url], clock=clock, attempts=4, base_delay_s=0.5).ask("Ask", ASK, CallSpec(models=("llmnet/general",)))
    assert clock.waits == [0.5, 1, 2] and len(fake.requests) == 4


def test_a_timeout_is_retried(fake: FakeCoordinator, url: str) -> None:
    slow = {"first": True}

    def respond(model: str, messages: list[dict[str, str]]) -> str:
        if slow.pop("first", False):
            time.sleep(1.5)
        return "late but fine"

    fake.responder = respond
    reply = client([url]).ask("Ask", ASK, CallSpec(models=("llmnet/general",), timeout_s=0.5))
    assert reply.text == "late but fine" and reply.attempts == 2


def test_a_refusal_that_retrying_cannot_fix_is_raised_at_once(fake: FakeCoordinator, url: str) -> None:
    fake.refuse = lambda n, model: (402, {})
    with pytest.raises(CoordinatorRefused, match="402"):
        client([url]).ask("Ask", ASK, CallSpec(models=("llmnet/general",)))
    assert len(fake.requests) == 1


def test_a_call_that_could_pass_the_budget_is_refused_before_it_is_made(fake: FakeCoordinator, url: str) -> None:
    llm = client([url], budget=Budget(wei=25 * 10**12))
    llm.ask("First", ASK, CallSpec(models=("llmnet/general",)))
    with pytest.raises(BudgetExceeded, match=r"before Second: 10000000000000 of 25000000000000 wei spent"):
        llm.ask("Second", ASK, CallSpec(models=("llmnet/general",), k=2))  # 2 respondents: 2e13 more
    assert len(fake.requests) == 1
    tokens = client([url], budget=Budget(tokens=100))
    with pytest.raises(BudgetExceeded, match="tokens"):
        tokens.ask("Big", ASK, CallSpec(models=("llmnet/general",), max_tokens=200))
    assert len(fake.requests) == 1


def test_the_estimate_bounds_tokens_and_learns_the_fee_from_receipts() -> None:
    first = estimate_call([], prompt_bytes=400, messages=2, max_tokens=50, k=2, fee_per_respondent_wei=10)
    assert first.tokens == 400 + 16 + 50 and first.fee_wei == 20  # one token per byte before any evidence
    from llmnet.agents.costs import CallCost

    seen = CallCost(action="a", model="m", task_id=None, prompt_tokens=100, completion_tokens=5, fee_wei=90,
                    respondents=[], fee_split_wei={}, prompt_bytes=400, k=3)  # fmt: skip
    later = estimate_call([seen], prompt_bytes=400, messages=2, max_tokens=50, k=2, fee_per_respondent_wei=10)
    assert later.tokens == 150 + 16 + 50 and later.fee_wei == 60  # 1.5 x the ratio seen; 30 wei per respondent


@pytest.mark.parametrize(
    ("text", "tokens", "wei"),
    [("5000tokens", 5000, None), ("0.001ether", None, 10**15), ("20000 gwei, 300 tokens", 300, 2 * 10**13),
     ("1e15wei", None, 10**15)],
)  # fmt: skip
def test_budgets_parse(text: str, tokens: int | None, wei: int | None) -> None:
    assert Budget.parse(text) == Budget(tokens=tokens, wei=wei)


@pytest.mark.parametrize("text", ["", "5000", "lots", "5 dollars", "-3tokens", "0tokens", "1tokens,2tokens"])
def test_bad_budgets_are_refused_with_the_forms_that_work(text: str) -> None:
    with pytest.raises(InputError, match=r"budget|positive"):
        Budget.parse(text)
