"""How long the coordinator waits for its peers, and which peers it stops asking for a while.

Pure rules, no I/O: the live coordinator and the tests drive them with a clock of their own.

- :class:`PeerDeadlines`: every deadline and cool-down knob, with its default and its limits
  (the coordinator's spec embeds them, so a config file, the launcher and the CLI set them).
- :func:`cutoff`: how long a round of parallel calls may last. Until a quorum (half of those
  asked, rounded up) has answered, the hard deadline; once it has, the others get a grace of
  ``max(grace_min_s, grace_factor x elapsed)``, never beyond the hard deadline. So one hung peer
  costs a task the grace, not the deadline.
- :class:`Breaker`: a peer that missed is skipped for ``cooldown_s``, doubled after each further
  miss up to ``cooldown_max_s`` and reset by a success. Once its cool-down is over, one call at a
  time probes it; the others keep skipping it until that probe succeeds or misses.

Example::

    breaker = Breaker(PeerDeadlines(cooldown_s=5), clock=lambda: now)
    breaker.missed("http://v1")
    breaker.admit("http://v1")   # False for the next 5 s
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, Field

from llmnet.roles.replay import MAX_DEADLINE_AHEAD_S

T = TypeVar("T")


class PeerDeadlines(BaseModel):
    """Deadlines for respondents' answers and validators' ratings, and how late peers are cooled down."""

    # hard deadlines; an assignment's deadline may be at most MAX_DEADLINE_AHEAD_S ahead, or its peer refuses it
    respondent_timeout_s: float = Field(default=60.0, gt=0, le=MAX_DEADLINE_AHEAD_S - 1)  # one answer
    rating_timeout_s: float = Field(default=60.0, gt=0, le=MAX_DEADLINE_AHEAD_S - 1)  # one validator's ratings
    grace_factor: float = Field(default=2.0, ge=0, le=100)  # once a quorum answered: x the time it took
    grace_min_s: float = Field(default=0.5, ge=0, le=3600)  # ... but at least this long
    cooldown_s: float = Field(default=5.0, ge=0, le=86400)  # a peer that missed is skipped this long
    cooldown_max_s: float = Field(default=120.0, ge=0, le=86400)  # doubled per miss up to this


def quorum(asked: int) -> int:
    """Half of those asked, rounded up: 1 of 1 or 2, 2 of 3 or 4."""
    return math.ceil(asked / 2)


def cutoff(hard_s: float, quorum_after_s: float | None, rule: PeerDeadlines) -> float:
    """Seconds after the start at which the peers still silent are given up on.

    ``quorum_after_s`` is when a quorum had answered (None: not yet)."""
    if quorum_after_s is None:
        return hard_s
    grace = max(rule.grace_min_s, rule.grace_factor * quorum_after_s)
    return min(hard_s, quorum_after_s + grace)


@dataclass
class _Health:
    misses: int = 0
    cool_until: float = 0.0
    probe_until: float = 0.0  # a probe is out until then (one that never reports back expires)


class Breaker:
    """Per-peer circuit breaker: closed (asked), cooling (skipped), half-open (one probe)."""

    def __init__(self, rule: PeerDeadlines, clock: Callable[[], float] = time.monotonic) -> None:
        self.rule, self.clock = rule, clock
        self._peers: dict[Hashable, _Health] = {}

    def cooling(self, peer: Hashable) -> bool:
        """Whether ``peer`` is in its cool-down (no side effect)."""
        health = self._peers.get(peer)
        return health is not None and self.clock() < health.cool_until

    def admit(self, peer: Hashable) -> bool:
        """Whether to ask ``peer`` now; after a cool-down, the first caller is its one probe."""
        health = self._peers.get(peer)
        if health is None or health.misses == 0:
            return True
        now = self.clock()
        if now < health.cool_until or now < health.probe_until:
            return False
        health.probe_until = now + self.rule.cooldown_max_s
        return True

    def succeeded(self, peer: Hashable) -> None:
        self._peers.pop(peer, None)

    def missed(self, peer: Hashable) -> None:
        health = self._peers.setdefault(peer, _Health())
        health.misses += 1
        pause = min(self.rule.cooldown_max_s, self.rule.cooldown_s * 2 ** min(health.misses - 1, 60))
        health.cool_until = self.clock() + pause
        health.probe_until = 0.0

    def cooling_last(self, items: Sequence[T], peer_of: Callable[[T], Hashable]) -> list[T]:
        """``items`` in their order, those whose peer is cooling down moved (in order) to the end."""
        ready = [x for x in items if not self.cooling(peer_of(x))]
        return ready + [x for x in items if self.cooling(peer_of(x))]
