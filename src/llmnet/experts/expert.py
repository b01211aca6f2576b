"""An expert respondent: any backend plus a :class:`KnowledgeBase` it answers from.

    expert = ExpertBackend(LlamaCppBackend(), KnowledgeBase.from_folder("knowledge/astronomy"))
    reply = expert.answer(GenerationRequest.from_prompt("Which planet is the largest?"))
    reply.completion.text, reply.source_files  # ("Jupiter is …", ["outer_planets.md"])

``generate()`` is the plain :class:`Backend` method; ``answer()`` and ``stream()`` also say which
passages the reply was grounded on, without keeping per-request state on the backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from llmnet.backends.base import Backend, ChatMessage, Chunk, Completion, GenerationRequest
from llmnet.errors import BackendError
from llmnet.experts.knowledge import KnowledgeBase, Passage

INSTRUCTION = "Answer the question using the passages. Reply in one or two sentences."


@dataclass(frozen=True)
class ExpertAnswer:
    completion: Completion
    sources: list[Passage]

    @property
    def source_files(self) -> list[str]:
        """Documents the passages came from, best first, each once."""
        return list(dict.fromkeys(p.source for p in self.sources))


class ExpertBackend(Backend):
    """Retrieves passages for the last user message and asks ``inner`` to answer from them.

    When no passage scores above ``min_score`` the request goes to ``inner`` unchanged. ``k=1`` suits
    small models such as SmolLM2-135M, which lose track of the question when given several passages.
    """

    def __init__(self, inner: Backend, knowledge: KnowledgeBase, *, k: int = 1, min_score: float = 0.5) -> None:
        self.inner = inner
        self.knowledge = knowledge
        self.k = k
        self.min_score = min_score
        self.model_id = f"expert:{inner.model_id}+{knowledge.name}"
        self.weights_sha256 = inner.weights_sha256
        self.can_stream = inner.can_stream
        self.deterministic = inner.deterministic

    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        _, chunks = self.stream(request)
        return chunks

    def stream(self, request: GenerationRequest) -> tuple[list[Passage], Iterator[Chunk]]:
        """Retrieve now, then stream the grounded reply from the inner backend."""
        passages = self.retrieve(request)
        return passages, self.inner.generate(grounded_request(request, passages))

    def answer(self, request: GenerationRequest) -> ExpertAnswer:
        passages, chunks = self.stream(request)
        return ExpertAnswer(join_chunks(chunks, self.model_id), passages)

    def retrieve(self, request: GenerationRequest) -> list[Passage]:
        query = question_of(request)
        return [hit.passage for hit in self.knowledge.retrieve(query, k=self.k, min_score=self.min_score)]


def question_of(request: GenerationRequest) -> str:
    """The last user message (or the last message, if no user spoke)."""
    users = [m for m in request.messages if m.role == "user"]
    return (users or list(request.messages))[-1].content


def build_prompt(question: str, passages: Iterable[Passage]) -> str:
    """Numbered passages, best first, then the question; short, for small context windows."""
    lines = [INSTRUCTION, ""]
    lines += [f"[{i}] ({p.source}, {p.title}) {p.text}" for i, p in enumerate(passages, 1)]
    lines += ["", f"Question: {question}"]
    return "\n".join(lines)


def grounded_request(request: GenerationRequest, passages: list[Passage]) -> GenerationRequest:
    """``request`` with its last user message replaced by :func:`build_prompt`."""
    if not passages:
        return request
    messages = list(request.messages)
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=len(messages) - 1)
    messages[last] = ChatMessage(messages[last].role, build_prompt(messages[last].content, passages))
    return replace(request, messages=tuple(messages))


def join_chunks(chunks: Iterable[Chunk], model_id: str) -> Completion:
    parts: list[str] = []
    last = Chunk("")
    for chunk in chunks:
        parts.append(chunk.text)
        last = chunk
    if last.usage is None or last.finish_reason is None:
        raise BackendError(f"backend {model_id!r} ended its stream without usage or finish_reason")
    return Completion("".join(parts), last.usage, model_id, last.finish_reason)
