"""Refusing a signed message seen before: a bounded memory of message digests until their deadlines.

Respondents and validators accept work only under a coordinator's signed assignment, which
carries a deadline. An observer who copies an assignment off the wire could send it again
until that deadline, to make the same model generate or the same judge rate (and log) again.
Each service therefore remembers the digest of every assignment it accepted until the
assignment's deadline has passed; after that the deadline check alone refuses it.

The memory is bounded: a deadline more than ``max_ahead_s`` away is refused, so an entry
lives at most that long, and at most ``capacity`` entries are kept. When it is full, new work
is refused (429, retry once the earliest entry expires) rather than a live entry forgotten,
which would let its message be replayed.

    >>> guard = ReplayGuard(capacity=2, max_ahead_s=60, clock=lambda: 1000.0)
    >>> guard.admit("0xab", deadline=1030)
    >>> guard.admit("0xab", deadline=1030)
    Traceback (most recent call last):
    ...
    llmnet.errors.InputError: message 0xab was accepted before: a replayed message is refused
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable

from llmnet.errors import BackendRateLimited, InputError

# A coordinator's deadlines are its per-call timeouts (60 s by default) from now: 15 minutes
# leaves room for slow models and clock skew, and bounds the memory to rate x 15 minutes.
MAX_DEADLINE_AHEAD_S = 900.0
# 100 assignments a second for the whole window: about 20 MB at most.
REPLAY_CAPACITY = 100_000


class ReplayGuard:
    """Digests of accepted messages, each kept until its deadline; thread-safe."""

    def __init__(self, capacity: int = REPLAY_CAPACITY, max_ahead_s: float = MAX_DEADLINE_AHEAD_S,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        if capacity < 1 or not 0 < max_ahead_s < math.inf:
            raise InputError(f"a replay guard needs capacity >= 1 and a finite max_ahead_s > 0, "
                             f"not {capacity} and {max_ahead_s}")  # fmt: skip
        self.capacity, self.max_ahead_s, self.clock = capacity, max_ahead_s, clock
        self._seen: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []  # a heap of (deadline, digest)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, deadline: float) -> None:
        """Refuse a deadline that has passed or is further ahead than this guard remembers."""
        now = self.clock()
        if deadline < now:
            raise InputError(f"deadline {deadline:.0f} has passed (it is now {now:.0f}); the message expired")
        if deadline > now + self.max_ahead_s:
            raise InputError(
                f"deadline {deadline:.0f} is {deadline - now:.0f} s ahead; at most {self.max_ahead_s:.0f} s is "
                "accepted: sign the message with a nearer deadline"
            )

    def admit(self, digest: str, deadline: float) -> None:
        """Remember ``digest`` until ``deadline``; refuse it if already remembered, expired or too far ahead."""
        self.check(deadline)
        with self._lock:
            self._forget_expired(self.clock())
            if digest in self._seen:
                raise InputError(f"message {digest} was accepted before: a replayed message is refused")
            if len(self._seen) >= self.capacity:
                wait = max(1.0, self._expiry[0][0] - self.clock())
                raise BackendRateLimited(
                    f"{len(self._seen)} messages are awaiting their deadlines, the most this service "
                    f"remembers; retry in {wait:.0f} s",
                    retry_after=wait,
                )
            self._seen[digest] = deadline
            heapq.heappush(self._expiry, (deadline, digest))

    def _forget_expired(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] < now:
            _, digest = heapq.heappop(self._expiry)
            self._seen.pop(digest, None)
