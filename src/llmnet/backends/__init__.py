"""Text generation backends behind one interface, :class:`Backend`, chosen by name.

backend = create_backend("llamacpp", n_threads=2)
backend.complete(GenerationRequest.from_prompt("Say hi", max_tokens=8)).text
"""

from __future__ import annotations

from typing import Any

from llmnet.backends.base import Backend, ChatMessage, Chunk, Completion, GenerationRequest, Usage
from llmnet.backends.fake import FakeBackend
from llmnet.backends.registry import backend_names, create_backend, register_backend

__all__ = [
    "Backend",
    "ChatMessage",
    "Chunk",
    "Completion",
    "FakeBackend",
    "GenerationRequest",
    "Usage",
    "backend_names",
    "create_backend",
    "register_backend",
]


# The heavier backends import their libraries only when first created.
def _llamacpp(**options: Any) -> Backend:
    from llmnet.backends.llamacpp import LlamaCppBackend

    return LlamaCppBackend(**options)


def _openai_compat(**options: Any) -> Backend:
    from llmnet.backends.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(**options)


def _transformers(**options: Any) -> Backend:
    from llmnet.backends.transformers_backend import TransformersBackend

    return TransformersBackend(**options)


register_backend("fake", FakeBackend)
register_backend("llamacpp", _llamacpp)
register_backend("openai_compat", _openai_compat)
register_backend("transformers", _transformers)  # prompt-tuned experts: pip install -e ".[train]"


def _impostor(**options: Any) -> Backend:
    from llmnet.backends.adversarial import impostor

    return impostor(**options)


def _oracle(**options: Any) -> Backend:
    from llmnet.backends.adversarial import OracleBackend

    return OracleBackend(**options)


register_backend("impostor", _impostor)  # attack models and scripted providers: llmnet.backends.adversarial
register_backend("oracle", _oracle)
