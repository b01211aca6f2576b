"""A scripted backend for tests and simulations: replies come from a queue or a function.

    backend = FakeBackend()
    backend.enqueue("Paris", "Rome")
    backend.complete(GenerationRequest.from_prompt("Capital of France?")).text  # "Paris"

Tokens are whitespace-separated words, so usage and ``max_tokens`` are easy to predict.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

from llmnet.backends.base import Backend, Chunk, GenerationRequest, Usage
from llmnet.errors import BackendError

Responder = Callable[[GenerationRequest], str]

_WORD = re.compile(r"\s*\S+")


def count_words(text: str) -> int:
    return len(text.split())


def _echo(request: GenerationRequest) -> str:
    return f"You said: {request.messages[-1].content}"


class FakeBackend(Backend):
    """Replies with queued text first, then with ``responder(request)`` (an echo by default)."""

    deterministic = True

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        delay_s: float = 0.0,
        fail_with: Exception | None = None,
        model_id: str = "fake",
    ) -> None:
        self.responder = responder or _echo
        self.delay_s = delay_s
        self.instant = delay_s == 0
        self.fail_with = fail_with
        self.model_id = model_id
        self.requests: list[GenerationRequest] = []
        self._queue: deque[str] = deque()
        self._lock = threading.Lock()

    def enqueue(self, *replies: str) -> None:
        with self._lock:
            self._queue.extend(replies)

    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        if self.fail_with is not None:
            raise self.fail_with
        reply = self._next_reply(request)
        text, finish_reason = _truncate(reply, request)
        words = _WORD.findall(text)
        for word in words:
            if self.delay_s:
                time.sleep(self.delay_s)
            yield Chunk(word)
        prompt_tokens = sum(count_words(m.content) for m in request.messages)
        yield Chunk("", finish_reason, Usage(prompt_tokens, len(words)))

    def _next_reply(self, request: GenerationRequest) -> str:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
        reply = self.responder(request)
        if not isinstance(reply, str):
            raise BackendError(f"FakeBackend responder returned {type(reply).__name__}, expected str")
        return reply


def _truncate(reply: str, request: GenerationRequest) -> tuple[str, str]:
    """Apply stop sequences, then ``max_tokens``; return the text and its finish reason."""
    cut = min((reply.find(s) for s in request.stop if s in reply), default=-1)
    text = reply[:cut] if cut >= 0 else reply
    words = _WORD.findall(text)
    if len(words) > request.max_tokens:
        return "".join(words[: request.max_tokens]), "length"
    return text, "stop"
