"""Dishonest respondents, for the adversary suite and the tests that show llmnet catches them.

These model attacks a real provider could mount, and scripted providers whose quality is known,
for measuring how the network treats them; none is used by an honest deployment.

- ``impostor``: serves one model's answers under another model's id and weights hash (the
  "quietly served a cheaper model" attack), e.g.
  ``create_backend("impostor", serve={"model": "gemma3-270m", "mode": "completion"}, claim={"model": "smollm2"})``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmnet.backends.base import Backend, Chunk, GenerationRequest, Usage
from llmnet.errors import BackendUnavailable
from llmnet.questions import load_questions, reference_book


class ImpostorBackend(Backend):
    """Generates with ``real`` while presenting ``claimed``'s model id and weights hash."""

    def __init__(self, real: Backend, claimed: Backend) -> None:
        self.real, self.claimed = real, claimed
        self.model_id, self.weights_sha256 = claimed.model_id, claimed.weights_sha256
        self.deterministic = real.deterministic

    def weight_files(self) -> dict[str, Path]:
        return self.claimed.weight_files()  # it hands out the files it claims to run, as an honest one would

    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        return self.real.generate(request)


def impostor(serve: dict[str, Any], claim: dict[str, Any]) -> Backend:
    """Two llama.cpp models: answers from ``serve``, identity from ``claim``."""
    from llmnet.backends.llamacpp import LlamaCppBackend

    return ImpostorBackend(LlamaCppBackend(**serve), LlamaCppBackend(**claim))


class OracleBackend(Backend):
    """A scripted provider for the adversary suite: it knows the reference answers of
    ``references`` (JSON lines with ``question`` and ``reference``) and answers

    - with the reference, with probability ``accuracy``, else with another question's reference
      (fluent but wrong);
    - ``lazy``: the same short generic non-answer to everything;
    - ``offline_after``: fails every request after that many answers, as a provider that went
      away mid-task (the respondent answers 503, the coordinator replaces it).
    """

    deterministic = True
    instant = True

    def __init__(self, references: str, *, accuracy: float = 1.0, lazy: bool = False,
                 offline_after: int | None = None, seed: int = 0, model_id: str = "oracle") -> None:  # fmt: skip
        known = load_questions(Path(references))
        self.answers = reference_book(known)
        self.wrong = [q.reference for q in known]
        self.accuracy, self.lazy, self.offline_after = accuracy, lazy, offline_after
        self.rng, self.model_id, self.served = random.Random(seed), model_id, 0
        self._lock = threading.Lock()

    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        with self._lock:
            self.served += 1
            if self.offline_after is not None and self.served > self.offline_after:
                raise BackendUnavailable(f"{self.model_id} is offline")
            question = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
            right = self.answers.get(question.strip().lower())
            if self.lazy:
                text = "It depends; I am not sure."
            elif right is not None and self.rng.random() < self.accuracy:
                text = right
            else:
                text = self.rng.choice([w for w in self.wrong if w != right] or ["I do not know."])
        yield Chunk(text)
        yield Chunk("", "stop", Usage(len(question.split()), len(text.split())))
