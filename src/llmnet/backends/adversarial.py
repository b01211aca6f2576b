"""Dishonest respondents, for the adversary suite and the tests that show llmnet catches them.

These model attacks a real provider could mount; none is used by an honest deployment.

- ``impostor``: serves one model's answers under another model's id and weights hash (the
  "quietly served a cheaper model" attack), e.g.
  ``create_backend("impostor", serve={"model": "gemma3-270m", "mode": "completion"}, claim={"model": "smollm2"})``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmnet.backends.base import Backend, Chunk, GenerationRequest


class ImpostorBackend(Backend):
    """Generates with ``real`` while presenting ``claimed``'s model id and weights hash."""

    def __init__(self, real: Backend, claimed: Backend) -> None:
        self.real = real
        self.model_id, self.weights_sha256 = claimed.model_id, claimed.weights_sha256
        self.deterministic = real.deterministic

    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        return self.real.generate(request)


def impostor(serve: dict[str, Any], claim: dict[str, Any]) -> Backend:
    """Two llama.cpp models: answers from ``serve``, identity from ``claim``."""
    from llmnet.backends.llamacpp import LlamaCppBackend

    return ImpostorBackend(LlamaCppBackend(**serve), LlamaCppBackend(**claim))
