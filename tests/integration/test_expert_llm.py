"""A real SmolLM2 expert answering from the astronomy knowledge folder."""

from __future__ import annotations

import pytest

from llmnet.backends import GenerationRequest, create_backend
from llmnet.data import KNOWLEDGE_ROOT
from llmnet.experts import ExpertBackend, KnowledgeBase

KNOWLEDGE = KNOWLEDGE_ROOT

pytestmark = pytest.mark.integration


def test_smollm2_expert_answers_from_the_right_passage() -> None:
    expert = ExpertBackend(create_backend("llamacpp", n_threads=2), KnowledgeBase.from_folder(KNOWLEDGE / "astronomy"))
    request = GenerationRequest.from_prompt("Which is the largest planet in the solar system?", max_tokens=48)
    reply = expert.answer(request)
    print(f"expert answer: {reply.completion.text!r} from {reply.source_files}")
    assert reply.source_files == ["outer_planets.md"]
    assert reply.sources[0].title == "Jupiter"
    assert reply.completion.model_id.startswith("expert:") and reply.completion.model_id.endswith("+astronomy")
    assert "Jupiter" in reply.completion.text
    sources, chunks = expert.stream(request)
    assert sources == reply.sources
    assert "".join(c.text for c in chunks) == reply.completion.text  # greedy decoding repeats itself
