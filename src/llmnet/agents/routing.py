"""Retries and routing around failures, as pure rules over plain data.

A call has routes (an endpoint and a model, in order of preference). A route that fails
cools down for a while (its ``Retry-After``, capped, or an exponential backoff); the next
attempt takes the first route that is not cooling down, so a call moves to another model or
endpoint at once when there is one, and waits only when every route is cooling down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from llmnet.errors import InputError


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # calls in all, over every route
    base_delay_s: float = 0.5  # first backoff without a Retry-After; doubles each time
    max_delay_s: float = 8.0
    retry_after_cap_s: float = 30.0  # a provider's Retry-After is honoured up to this

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise InputError(f"retry attempts must be at least 1, got {self.attempts}")


@dataclass(frozen=True)
class Route:
    base_url: str
    model: str

    def __str__(self) -> str:
        return f"{self.model} at {self.base_url}"


def routes_for(base_urls: list[str], models: list[str]) -> list[Route]:
    """Every model on every endpoint: the same model on another endpoint before the next model."""
    return [Route(url, model) for model in models for url in base_urls]


def backoff_delay(policy: RetryPolicy, failures: int, retry_after: float | None) -> float:
    """How long a route cools down after its ``failures``-th failure in a row."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), policy.retry_after_cap_s)
    return min(policy.base_delay_s * 2 ** max(failures - 1, 0), policy.max_delay_s)


def parse_retry_after(headers: dict[str, str], now: datetime | None = None) -> float | None:
    """Seconds from ``retry-after-ms``, or ``retry-after`` as seconds or an HTTP date; None if absent."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return float(lowered["retry-after-ms"]) / 1000
        if "retry-after" not in lowered:
            return None
        value = lowered["retry-after"].strip()
        try:
            return float(value)
        except ValueError:
            when = parsedate_to_datetime(value)
            return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
    except (ValueError, TypeError):
        return None


@dataclass
class RouteBook:
    """Which routes may be tried when: a route that fails cools down; one that is gone stays out."""

    routes: list[Route]
    policy: RetryPolicy
    not_before: dict[Route, float] = field(default_factory=dict)
    failures: dict[Route, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.routes:
            raise InputError("a call needs at least one route (an endpoint and a model)")

    def next(self, now: float) -> tuple[Route, float] | None:
        """The route to try next and how long to wait first; None when every route is gone."""
        live = [r for r in self.routes if self.not_before.get(r, 0.0) < math.inf]
        if not live:
            return None
        ready = [r for r in live if self.not_before.get(r, 0.0) <= now]
        if ready:
            return ready[0], 0.0
        soonest = min(live, key=lambda r: self.not_before[r])
        return soonest, self.not_before[soonest] - now

    def failed(self, route: Route, now: float, retry_after: float | None = None) -> float:
        """Record a failure; returns the cool-down it earned."""
        self.failures[route] = self.failures.get(route, 0) + 1
        delay = backoff_delay(self.policy, self.failures[route], retry_after)
        self.not_before[route] = now + delay
        return delay

    def gone(self, route: Route) -> None:
        """The route cannot serve this call at all (an unknown model, say)."""
        self.not_before[route] = math.inf
