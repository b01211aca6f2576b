"""One suite every backend passes: fake, llama.cpp (SmolLM2, and SmolLM2 with a GGUF LoRA adapter),
OpenAI-compatible over loopback HTTP, and transformers (SmolLM2 with a prefix-tuning adapter)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmnet.backends import Backend, ChatMessage, FakeBackend, GenerationRequest, create_backend
from llmnet.errors import InputError
from tests.adapters import make_lora_adapter, make_prefix_adapter
from tests.conformance.openai_server import serve_openai

PROMPT = "Tell me a short story about a fox."


def _story(request: GenerationRequest) -> str:
    return "Once upon a time a clever fox met a crow near the river, and they talked about " + (
        request.messages[-1].content
    )


@pytest.fixture(scope="session")
def smollm2() -> Backend:
    return create_backend("llamacpp", n_threads=2)


@pytest.fixture(scope="session")
def smollm2_lora(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    adapter = make_lora_adapter(tmp_path_factory.mktemp("lora") / "adapter.gguf")
    return create_backend("llamacpp", n_threads=2, lora=adapter)


@pytest.fixture(scope="session")
def smollm2_prefix(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    adapter = make_prefix_adapter(tmp_path_factory.mktemp("prefix") / "prefix")
    return create_backend("transformers", base="smollm2", adapter=adapter, n_threads=1)


@pytest.fixture(scope="session")
def openai_url() -> Iterator[str]:
    with serve_openai(FakeBackend(_story, model_id="fake-story")) as url:
        yield url


@pytest.fixture(
    params=[
        "fake",
        "openai_compat",
        pytest.param("llamacpp", marks=pytest.mark.integration),
        pytest.param("llamacpp+lora", marks=pytest.mark.integration),
        pytest.param("transformers+prefix", marks=pytest.mark.integration),
    ]
)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "fake":
        return create_backend("fake", responder=_story)
    if request.param == "openai_compat":
        url = request.getfixturevalue("openai_url")
        return create_backend("openai_compat", base_url=url, model="fake-story", deterministic=True)
    fixture = {"llamacpp": "smollm2", "llamacpp+lora": "smollm2_lora", "transformers+prefix": "smollm2_prefix"}
    backend: Backend = request.getfixturevalue(fixture[request.param])
    return backend


def ask(max_tokens: int = 16, stop: tuple[str, ...] = ()) -> GenerationRequest:
    return GenerationRequest.from_prompt(PROMPT, max_tokens=max_tokens, stop=stop)


def test_describes_itself(backend: Backend) -> None:
    assert isinstance(backend.model_id, str) and backend.model_id
    assert isinstance(backend.can_stream, bool)
    assert isinstance(backend.deterministic, bool)


def test_stream_joins_to_completion(backend: Backend) -> None:
    chunks = list(backend.generate(ask()))
    assert all(c.usage is None and c.finish_reason is None for c in chunks[:-1])
    completion = backend.complete(ask())
    assert completion.text.strip()
    if backend.deterministic:
        assert "".join(c.text for c in chunks) == completion.text


def test_usage_and_finish_reason(backend: Backend) -> None:
    completion = backend.complete(ask())
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert completion.finish_reason in ("stop", "length")
    assert completion.model_id == backend.model_id


def test_max_tokens_respected(backend: Backend) -> None:
    completion = backend.complete(ask(max_tokens=4))
    assert 0 < completion.usage.completion_tokens <= 4
    assert completion.finish_reason == "length"


def test_deterministic_at_temperature_zero(backend: Backend) -> None:
    if not backend.deterministic:
        pytest.skip("backend does not promise deterministic output")
    first = backend.complete(ask(max_tokens=12))
    assert backend.complete(ask(max_tokens=12)).text == first.text


def test_stop_sequence_honoured(backend: Backend) -> None:
    free = backend.complete(ask(max_tokens=16)).text
    words = free.split()
    assert len(words) >= 4, f"need a longer reply to pick a stop word from: {free!r}"
    stop = words[3]
    stopped = backend.complete(ask(max_tokens=16, stop=(stop,)))
    assert stop not in stopped.text
    assert stopped.finish_reason == "stop"
    if backend.deterministic:
        assert free.startswith(stopped.text)


def test_multi_turn_messages(backend: Backend) -> None:
    messages = (
        ChatMessage("system", "You are brief."),
        ChatMessage("user", "Name a colour."),
        ChatMessage("assistant", "Blue."),
        ChatMessage("user", "Another one?"),
    )
    completion = backend.complete(GenerationRequest(messages, max_tokens=8))
    assert completion.usage.completion_tokens <= 8


def test_empty_messages_is_input_error(backend: Backend) -> None:
    with pytest.raises(InputError, match="at least one message"):
        backend.complete(GenerationRequest(messages=()))
