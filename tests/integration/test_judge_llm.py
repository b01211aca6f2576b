"""LLMJudge on a real model. SmolLM2-135M is a weak grader, so only the contract is checked."""

from __future__ import annotations

import pytest

from llmnet.backends.llamacpp import LlamaCppBackend
from llmnet.roles.judge import LLMJudge


@pytest.mark.integration
def test_llm_judge_on_smollm2_scores_every_answer_within_1_to_10() -> None:
    answers = {
        "right": "The capital of France is Paris.",
        "wrong": "The capital of France is Berlin.",
        "vague": "France is a country in Europe with many cities.",
    }
    result = LLMJudge(LlamaCppBackend()).rate_detailed("What is the capital of France?", answers)
    print("scores:", result.scores, "parse failures:", result.parse_failures)
    print("raw outputs:", result.raw_outputs)
    assert set(result.scores) == set(answers) == set(result.raw_outputs)
    assert all(1.0 <= s <= 10.0 for s in result.scores.values())
