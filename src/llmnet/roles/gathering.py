"""Calls to several peers in parallel that never wait on the slowest one (see :func:`llmnet.roles.peers.cutoff`).

Example::

    got = await gather_quorum({url: rate(url) for url in validators}, hard_s=60, rule=PeerDeadlines())
    got.done     # url -> what it returned, for those that finished in time
    got.late     # urls given up on: their calls were cancelled
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from llmnet.roles.peers import PeerDeadlines, cutoff, quorum

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass
class Gathered(Generic[K, T]):
    done: dict[K, T] = field(default_factory=dict)
    late: list[K] = field(default_factory=list)


async def gather_quorum(
    calls: Mapping[K, Awaitable[T]], hard_s: float, rule: PeerDeadlines, clock: Callable[[], float] = time.monotonic
) -> Gathered[K, T]:
    """Run ``calls`` together; once a quorum has finished, the rest get the grace, then are cancelled.

    A call that raises counts as finished (its peer answered, badly) and propagates its exception."""
    started = clock()
    tasks: dict[asyncio.Future[T], K] = {asyncio.ensure_future(c): key for key, c in calls.items()}
    pending, needed, quorum_after = set(tasks), quorum(len(tasks)), None
    got: Gathered[K, T] = Gathered()
    try:
        while pending:
            remaining = cutoff(hard_s, quorum_after, rule) - (clock() - started)
            if remaining <= 0:
                break
            finished, pending = await asyncio.wait(pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                got.done[tasks[task]] = task.result()
            if quorum_after is None and len(tasks) - len(pending) >= needed:
                quorum_after = clock() - started
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    got.late = [key for task, key in tasks.items() if task in pending]
    return got
