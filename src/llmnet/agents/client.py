"""Every LLM call of a team goes to an llmnet coordinator's OpenAI-compatible API through the
official ``openai`` SDK, with its domain (model ``llmnet/<domain>`` or ``llmnet/auto``), fee
(respondents ``k``) and token limit chosen per action; retried and routed around failures by
:mod:`llmnet.agents.routing`; metered and refused beyond the budget by :mod:`llmnet.agents.costs`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai
from openai import OpenAI

from llmnet.agents.costs import CallCost, CostManager, receipt_cost
from llmnet.agents.routing import RetryPolicy, Route, RouteBook, parse_retry_after, routes_for
from llmnet.defaults import DEFAULT_MAX_TOKENS, MAX_K
from llmnet.errors import BackendUnavailable, CoordinatorRefused, InputError

Sleep = Callable[[float], None]
Clock = Callable[[], float]


@dataclass(frozen=True)
class CallSpec:
    """How an action calls the network: models in order of preference, respondents, tokens, timeout."""

    models: tuple[str, ...] = ("llmnet/auto",)
    k: int = 1  # respondents; the fee is k times the coordinator's per-respondent fee
    rounds: int = 0  # collaborative prompting rounds
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if not self.models:
            raise InputError("a call needs at least one model, e.g. 'llmnet/auto'")
        if not 1 <= self.k <= MAX_K:
            raise InputError(f"respondents per call must be between 1 and {MAX_K}, got {self.k}")


@dataclass(frozen=True)
class Reply:
    text: str
    cost: CallCost
    route: Route
    attempts: int


@dataclass
class CallEvents:
    """What a caller may want to see: retries (route, error, wait) and each finished call's cost line."""

    on_retry: Callable[[Route, str, float], None] = lambda route, error, wait: None
    on_cost: Callable[[str], None] = lambda line: None


@dataclass
class NetworkLLM:
    """The network as a team's language model: ``ask(action, messages, spec)`` returns the reply text
    with its receipt's cost, after checking the budget."""

    base_urls: list[str]
    api_key: str
    costs: CostManager
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = time.sleep
    clock: Clock = time.monotonic
    events: CallEvents = field(default_factory=CallEvents)
    _clients: dict[tuple[str, float], OpenAI] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.base_urls:
            raise InputError("no endpoint: give the coordinator's OpenAI base URL, e.g. http://127.0.0.1:8300/v1")

    def ask(self, action: str, messages: list[dict[str, str]], spec: CallSpec) -> Reply:
        prompt_bytes = sum(len(m["content"].encode()) for m in messages)
        self.costs.check(action, self.costs.estimate(prompt_bytes, len(messages), spec.max_tokens, spec.k))
        book = RouteBook(routes_for(self.base_urls, list(spec.models)), self.policy)
        errors: list[str] = []
        for attempt in range(1, self.policy.attempts + 1):
            step = book.next(self.clock())
            if step is None:
                break
            route, wait = step
            if wait > 0:
                self.sleep(wait)
            body = self._attempt(route, messages, spec, book, errors)
            if body is not None:
                cost = receipt_cost(action, route.model, body, prompt_bytes, spec.k)
                self.events.on_cost(self.costs.record(cost))
                return Reply(_text(body), cost, route, attempt)
        raise BackendUnavailable(
            f"{action} failed on every route after {len(errors)} attempts ({'; '.join(errors[-3:])}); "
            "the run is saved: resume it once the network answers again"
        )

    def _attempt(self, route: Route, messages: list[dict[str, str]], spec: CallSpec, book: RouteBook,
                 errors: list[str]) -> dict[str, Any] | None:  # fmt: skip
        """One call on one route; on a failure worth routing around, the route rests (or is dropped)."""
        try:
            return self._call(route, messages, spec)
        except _Retryable as exc:
            errors.append(f"{route}: {exc.reason}")
            self.events.on_retry(route, exc.reason, book.failed(route, self.clock(), exc.retry_after))
        except _RouteGone as exc:
            errors.append(f"{route}: {exc.reason}")
            book.gone(route)
        return None

    def _client(self, base_url: str, timeout: float) -> OpenAI:
        key = (base_url, timeout)
        if key not in self._clients:
            # retries are ours (routing around, capped Retry-After, budget checks), so the SDK makes one attempt
            self._clients[key] = OpenAI(base_url=base_url, api_key=self.api_key, timeout=timeout, max_retries=0)
        return self._clients[key]

    def _call(self, route: Route, messages: list[dict[str, str]], spec: CallSpec) -> dict[str, Any]:
        client = self._client(route.base_url, spec.timeout_s)
        try:
            response = client.chat.completions.create(
                model=route.model, messages=messages, max_tokens=spec.max_tokens,  # type: ignore[arg-type]
                temperature=spec.temperature, extra_body={"llmnet": {"k": spec.k, "rounds": spec.rounds}},
            )  # fmt: skip
        except openai.RateLimitError as exc:
            raise _Retryable(f"429 {_message(exc)}", parse_retry_after(dict(exc.response.headers))) from exc
        except openai.InternalServerError as exc:
            raise _Retryable(
                f"{exc.status_code} {_message(exc)}", parse_retry_after(dict(exc.response.headers))
            ) from exc
        except openai.APITimeoutError as exc:
            raise _Retryable(f"no answer within {spec.timeout_s:g}s") from exc
        except openai.APIConnectionError as exc:
            raise _Retryable(f"cannot connect ({exc.__cause__ or exc})") from exc
        except openai.NotFoundError as exc:
            raise _RouteGone(f"404 {_message(exc)}") from exc
        except openai.APIStatusError as exc:
            raise CoordinatorRefused(exc.status_code, _message(exc)) from exc
        return response.model_dump()


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class _RouteGone(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return exc.message


def _text(body: dict[str, Any]) -> str:
    choices = body.get("choices") or [{}]
    return str((choices[0].get("message") or {}).get("content") or "")
