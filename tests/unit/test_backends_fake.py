"""FakeBackend scripting and the backend registry."""

from __future__ import annotations

import pytest

from llmnet.backends import (
    Backend,
    ChatMessage,
    FakeBackend,
    GenerationRequest,
    backend_names,
    create_backend,
    register_backend,
)
from llmnet.errors import BackendUnavailable, ConfigError, InputError


def ask(text: str = "hi", **options: object) -> GenerationRequest:
    return GenerationRequest.from_prompt(text, **options)  # type: ignore[arg-type]


def test_enqueued_replies_come_first_then_responder() -> None:
    backend = FakeBackend(lambda r: "fallback")
    backend.enqueue("one", "two")
    assert [backend.complete(ask()).text for _ in range(3)] == ["one", "two", "fallback"]
    assert len(backend.requests) == 3


def test_default_responder_echoes() -> None:
    assert FakeBackend().complete(ask("ping")).text == "You said: ping"


def test_streams_word_by_word_and_counts_words() -> None:
    backend = FakeBackend()
    backend.enqueue("alpha beta  gamma")
    chunks = list(backend.generate(ask("a b c")))
    assert [c.text for c in chunks] == ["alpha", " beta", "  gamma", ""]
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (3, 3)


def test_max_tokens_and_stop() -> None:
    backend = FakeBackend(lambda r: "one two three four. five six")
    assert backend.complete(ask(max_tokens=2)).text == "one two"
    stopped = backend.complete(ask(stop=(".",)))
    assert (stopped.text, stopped.finish_reason) == ("one two three four", "stop")


def test_fail_with_raises_the_given_error() -> None:
    backend = FakeBackend(fail_with=BackendUnavailable("down"))
    with pytest.raises(BackendUnavailable):
        backend.complete(ask())


def test_request_validation() -> None:
    with pytest.raises(InputError, match="max_tokens"):
        ask(max_tokens=0)
    with pytest.raises(InputError, match="role"):
        ChatMessage("robot", "beep")


def test_builtins_are_registered() -> None:
    assert {"fake", "llamacpp", "openai_compat"} <= set(backend_names())
    assert isinstance(create_backend("fake"), FakeBackend)


def test_third_party_backend_registers_like_builtins() -> None:
    class Shouty(FakeBackend):
        pass

    register_backend("shouty", lambda **options: Shouty(lambda r: "HI", **options))
    backend: Backend = create_backend("shouty", model_id="loud")
    assert backend.complete(ask()).text == "HI"


def test_unknown_backend_lists_known_names() -> None:
    with pytest.raises(ConfigError, match=r"known backends: .*fake") as caught:
        create_backend("fkae")
    assert "did you mean 'fake'" in str(caught.value)
