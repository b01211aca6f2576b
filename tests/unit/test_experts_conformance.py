"""The backend conformance suite, run against an expert over the scripted fake backend."""

from __future__ import annotations

import pytest

from llmnet.backends import Backend, FakeBackend, GenerationRequest
from llmnet.experts import ExpertBackend, KnowledgeBase, Passage
from tests.conformance import test_backend_conformance as suite

# the shared suite's tests, collected here so they use this module's ``backend`` fixture
test_describes_itself = suite.test_describes_itself
test_stream_joins_to_completion = suite.test_stream_joins_to_completion
test_usage_and_finish_reason = suite.test_usage_and_finish_reason
test_max_tokens_respected = suite.test_max_tokens_respected
test_deterministic_at_temperature_zero = suite.test_deterministic_at_temperature_zero
test_stop_sequence_honoured = suite.test_stop_sequence_honoured
test_multi_turn_messages = suite.test_multi_turn_messages
test_empty_messages_is_input_error = suite.test_empty_messages_is_input_error

PASSAGES = [
    Passage("fox.md#1", "fox.md", "Foxes", "A fox is a small wild dog with a bushy tail that hunts at night."),
    Passage("story.md#1", "story.md", "Stories", "A short story has one plot and few characters."),
]


def _story(request: GenerationRequest) -> str:
    return "Once upon a time a clever fox met a crow near the river, and they talked about the stars."


@pytest.fixture
def backend() -> Backend:
    return ExpertBackend(FakeBackend(_story), KnowledgeBase(PASSAGES), min_score=0.0)
