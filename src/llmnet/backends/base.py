"""The one extension point for text generation: :class:`Backend`.

A backend streams :class:`Chunk` objects for a :class:`GenerationRequest`; the base class
joins them into a :class:`Completion`::

    backend = FakeBackend()
    backend.enqueue("Paris")
    backend.complete(GenerationRequest.from_prompt("Capital of France?")).text  # "Paris"
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from llmnet.errors import BackendError, BackendUnavailable, InputError

ROLES = frozenset({"system", "user", "assistant"})


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InputError(f"unknown message role {self.role!r}; use one of {sorted(ROLES)}")


@dataclass(frozen=True)
class GenerationRequest:
    messages: tuple[ChatMessage, ...]
    max_tokens: int = 256
    temperature: float = 0.0
    seed: int = 0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.messages:
            raise InputError("a generation request needs at least one message; got none")
        if self.max_tokens < 1:
            raise InputError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise InputError(f"temperature must be 0 or more, got {self.temperature}")
        if any(not s for s in self.stop):
            raise InputError(f"stop sequences must be non-empty strings, got {self.stop!r}")

    @classmethod
    def from_prompt(
        cls,
        prompt: str,
        *,
        system: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        stop: tuple[str, ...] = (),
    ) -> GenerationRequest:
        """A single-turn request: an optional system message and one user message."""
        head = (ChatMessage("system", system),) if system else ()
        messages = (*head, ChatMessage("user", prompt))
        return cls(messages, max_tokens=max_tokens, temperature=temperature, seed=seed, stop=stop)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Chunk:
    """A piece of streamed text. The last chunk of a stream carries ``finish_reason`` and ``usage``."""

    text: str
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage
    model_id: str
    finish_reason: str


class Backend(ABC):
    """Generates text for chat requests. Subclasses implement :meth:`generate` only."""

    #: chunks arrive while the model works, not all at the end
    can_stream: bool = True
    #: temperature 0 and a fixed seed give the same text every time
    deterministic: bool = False
    model_id: str = "unknown"
    #: sha256 of the weights file, for local models
    weights_sha256: str | None = None
    #: answers at once, without I/O or heavy compute, so it may run on a server's event loop
    instant: bool = False
    #: :meth:`yes_probability` reads a yes/no verdict from the model's token probabilities
    can_judge_yes_no: bool = False

    @abstractmethod
    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        """Stream the reply; the final chunk carries ``finish_reason`` and ``usage``."""

    def weight_files(self) -> dict[str, Path]:
        """The weights files this backend runs, by sha256 (hex): what a respondent lets anybody fetch
        (``GET /v1/weights/{sha256}``) to re-run its answers. None for remote or scripted models."""
        return {}

    def yes_probability(self, request: GenerationRequest) -> float:
        """P(yes) / (P(yes) + P(no)) for the first token of the reply (backends with
        ``can_judge_yes_no``); 0.5 when the model puts neither among its likeliest tokens."""
        raise BackendUnavailable(f"backend {self.model_id!r} gives no token probabilities; check can_judge_yes_no")

    def complete(self, request: GenerationRequest) -> Completion:
        parts: list[str] = []
        last = Chunk("")
        for chunk in self.generate(request):
            parts.append(chunk.text)
            last = chunk
        if last.usage is None or last.finish_reason is None:
            raise BackendError(f"backend {self.model_id!r} ended its stream without usage or finish_reason")
        return Completion("".join(parts), last.usage, self.model_id, last.finish_reason)
