"""The grounded judge's model of last resort on a real model: a yes/no verdict read from
SmolLM2's token probabilities. SmolLM2-135M is a weak judge, so only the contract is checked."""

from __future__ import annotations

import json

import pytest

from llmnet.backends.base import GenerationRequest
from llmnet.backends.llamacpp import LlamaCppBackend
from llmnet.roles.grounded import YES_NO_PROMPT, GroundedJudge


@pytest.mark.integration
def test_a_yes_no_verdict_is_read_from_token_probabilities() -> None:
    backend = LlamaCppBackend()
    assert backend.can_judge_yes_no
    prompt = YES_NO_PROMPT.format(question="What is the capital of France?", answer="Paris")
    p_yes = backend.yes_probability(GenerationRequest.from_prompt(prompt, max_tokens=1))
    assert 0.0 <= p_yes <= 1.0
    result = GroundedJudge({}, backend).rate_detailed("What is the capital of France?", {"a": "Paris", "b": "Rome"})
    for key in ("a", "b"):
        why = json.loads(result.raw_outputs[key])
        assert why["verdict"] == "model" and why["note"].startswith("P(yes) = ")
        assert 1.0 <= result.scores[key] <= 10.0
