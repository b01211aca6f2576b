"""An expert respondent: any backend plus a :class:`KnowledgeBase` it answers from.

    expert = ExpertBackend(LlamaCppBackend(), KnowledgeBase.from_folder("knowledge/astronomy"))
    reply = expert.answer(GenerationRequest.from_prompt("Which planet is the largest?"))
    reply.completion.text, reply.source_files  # ("Jupiter is …", ["outer_planets.md"])

``generate()`` is the plain :class:`Backend` method; ``answer()`` and ``stream()`` also say which
passages the reply was grounded on, without keeping per-request state on the backend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from llmnet.backends.base import Backend, ChatMessage, Chunk, Completion, GenerationRequest
from llmnet.errors import BackendError
from llmnet.experts.knowledge import KnowledgeBase, Passage

INSTRUCTION = "Answer the question using the passages. Reply in one or two sentences."
FACTS_INSTRUCTION = "Answer the question from these facts, in one short sentence."
FACTS_INSTRUCTION_ZH = "根据以下事实，用一句话回答问题。"
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
EvidenceMode = Literal["sentences", "passages"]


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
    With ``evidence="sentences"`` (the default) the model is shown only the sentences of the documents
    that best state what the question asks (:class:`llmnet.facts.evidence.EvidenceIndex`, the search
    the validators' grounded judge uses), with the sentence before the best one for its subject: a
    135M-parameter model copies the right fact from three sentences far more often than from a
    passage of a hundred words. ``"passages"`` shows the retrieved passages whole.
    """

    def __init__(self, inner: Backend, knowledge: KnowledgeBase, *, k: int = 1, min_score: float = 0.5,
                 evidence: EvidenceMode = "sentences") -> None:  # fmt: skip
        from llmnet.facts.evidence import EvidenceIndex  # the facts package reads knowledge bases itself

        self.inner = inner
        self.knowledge = knowledge
        self.k = k
        self.min_score = min_score
        self.index = EvidenceIndex(knowledge) if evidence == "sentences" else None
        self.model_id = f"expert:{inner.model_id}+{knowledge.name}"
        self.weights_sha256 = inner.weights_sha256
        self.can_stream = inner.can_stream
        self.deterministic = inner.deterministic

    def weight_files(self) -> dict[str, Path]:
        return self.inner.weight_files()

    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        _, chunks = self.stream(request)
        return chunks

    def stream(self, request: GenerationRequest) -> tuple[list[Passage], Iterator[Chunk]]:
        """Retrieve now, then stream the grounded reply from the inner backend."""
        passages = self.retrieve(request)
        return passages, self.inner.generate(self.grounded(request, passages))

    def grounded(self, request: GenerationRequest, passages: list[Passage]) -> GenerationRequest:
        """``request`` with its question put to the model beside the evidence for it."""
        facts = self.facts(question_of(request)) if passages and self.index is not None else []
        if facts:
            return with_question(request, facts_prompt(question_of(request), facts))
        return grounded_request(request, passages)

    def facts(self, question: str) -> list[str]:
        """The sentences that best state what ``question`` asks, the one before the best first."""
        found = self.index.find(question) if self.index is not None else None
        if found is None:
            return []
        chosen = list(found.sentences[:2])
        before = found.before_best()
        return [before, *chosen] if before and before not in chosen else chosen

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


def facts_prompt(question: str, facts: Iterable[str]) -> str:
    """The facts as a list, then the question; the instruction in Chinese for a Chinese question."""
    instruction = FACTS_INSTRUCTION_ZH if _CJK.search(question) else FACTS_INSTRUCTION
    return "\n".join([instruction, *(f"- {fact}" for fact in facts), "", f"Question: {question}"])


def grounded_request(request: GenerationRequest, passages: list[Passage]) -> GenerationRequest:
    """``request`` with its last user message replaced by :func:`build_prompt`."""
    if not passages:
        return request
    return with_question(request, build_prompt(question_of(request), passages))


def with_question(request: GenerationRequest, prompt: str) -> GenerationRequest:
    """``request`` with its last user message replaced by ``prompt``."""
    messages = list(request.messages)
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=len(messages) - 1)
    messages[last] = ChatMessage(messages[last].role, prompt)
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
