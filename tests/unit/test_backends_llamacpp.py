"""llama.cpp backend specifics: completion mode, weights hash, prompt building, bad paths."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from llmnet.backends import ChatMessage, GenerationRequest
from llmnet.backends.llamacpp import LlamaCppBackend, few_shot_prompt, smollm2_path, weights_sha256
from llmnet.errors import BackendUnavailable, ConfigError
from tests.adapters import tiny_adapter, tiny_gguf


def test_few_shot_prompt_ends_with_answer_slot() -> None:
    messages = (ChatMessage("system", "Answer briefly."), ChatMessage("user", "Capital of France?"))
    prompt = few_shot_prompt(messages, (("2 + 2?", "4"),))
    assert prompt == "Answer briefly.\nQ: 2 + 2?\nA: 4\nQ: Capital of France?\nA:"


def test_missing_weights_file_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="no GGUF weights"):
        LlamaCppBackend(tmp_path / "missing.gguf")


def test_unknown_mode_is_config_error() -> None:
    with pytest.raises(ConfigError, match="mode"):
        LlamaCppBackend(mode="poetry")  # type: ignore[arg-type]


def test_weights_hash_is_cached_next_to_the_file(tmp_path: Path) -> None:
    weights = tmp_path / "w.gguf"
    weights.write_bytes(b"not really a model")
    digest = weights_sha256(weights)
    assert len(digest) == 64
    assert (tmp_path / "w.gguf.sha256").read_text().strip() == digest


@pytest.mark.integration
def test_completion_mode_answers_after_a_few_shot_prompt() -> None:
    backend = LlamaCppBackend(smollm2_path(), mode="completion")
    completion = backend.complete(GenerationRequest.from_prompt("What is the capital of France?", max_tokens=12))
    assert "Paris" in completion.text
    assert "\n" not in completion.text.strip()  # one line: the transcript's next turn is not generated
    assert completion.usage.completion_tokens <= 12


@pytest.mark.integration
def test_abandoned_stream_frees_the_model() -> None:
    backend = LlamaCppBackend()
    stream = backend.generate(GenerationRequest.from_prompt("Tell me a story.", max_tokens=24))
    assert isinstance(stream, Generator)
    next(stream)
    stream.close()
    assert backend.complete(GenerationRequest.from_prompt("Hi", max_tokens=4)).usage.completion_tokens <= 4
    assert backend.weights_sha256 is not None and len(backend.weights_sha256) == 64


def test_an_adapter_trained_on_another_base_is_refused_before_loading(tmp_path: Path) -> None:
    adapter = tiny_adapter(tmp_path / "adapter.gguf", "ab" * 32)
    with pytest.raises(ConfigError, match="trained on the base model with sha256 abababababababab…, not on the loaded"):
        LlamaCppBackend(lora=adapter)


def test_a_missing_adapter_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="no GGUF LoRA adapter at"):
        LlamaCppBackend(lora=tmp_path / "missing.gguf")


def test_a_model_file_given_as_adapter_is_refused(tmp_path: Path) -> None:
    model = tiny_gguf(tmp_path / "model.gguf", {"general.type": "model"})
    with pytest.raises(ConfigError, match="is not a GGUF LoRA adapter"):
        LlamaCppBackend(lora=model)
