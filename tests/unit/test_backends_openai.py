"""OpenAI-compatible backend: streaming and error translation, through httpx.MockTransport."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import httpx
import pytest

from llmnet.backends import GenerationRequest
from llmnet.backends.openai_compat import OpenAICompatBackend
from llmnet.errors import (
    BackendError,
    BackendRateLimited,
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
    InputError,
)

URL = "http://llm.test/v1"
REQUEST = GenerationRequest.from_prompt("hello", max_tokens=8)


def backend_with(handler: Callable[[httpx.Request], httpx.Response]) -> OpenAICompatBackend:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return OpenAICompatBackend(URL, model="m", http_client=client)


def sse(*events: dict[str, object]) -> httpx.Response:
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return httpx.Response(200, text=body, headers={"Content-Type": "text/event-stream"})


def event(content: str | None, finish: str | None = None, usage: bool = False) -> dict[str, object]:
    delta = {"content": content} if content else {}
    payload: dict[str, object] = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    payload["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    if usage:
        payload["choices"] = []
        payload["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    return payload


def test_streams_and_reports_usage() -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return sse(event("Hi"), event(" there", "stop"), event(None, usage=True))

    completion = backend_with(handler).complete(REQUEST)
    assert (completion.text, completion.finish_reason) == ("Hi there", "stop")
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3, 2)
    assert sent[0]["stream"] is True and sent[0]["max_tokens"] == 8


def test_rate_limit_carries_retry_after() -> None:
    backend = backend_with(lambda r: httpx.Response(429, headers={"Retry-After": "2"}, json={"error": {}}))
    with pytest.raises(BackendRateLimited) as caught:
        backend.complete(REQUEST)
    assert caught.value.retry_after == 2.0


def test_rate_limit_without_header() -> None:
    with pytest.raises(BackendRateLimited) as caught:
        backend_with(lambda r: httpx.Response(429, json={"error": {}})).complete(REQUEST)
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, BackendError), (500, BackendError), (401, ConfigError), (404, ConfigError), (400, InputError)],
)
def test_http_status_mapping(status: int, error: type[Exception]) -> None:
    backend = backend_with(lambda r: httpx.Response(status, json={"error": {"message": "nope"}}))
    with pytest.raises(error):
        backend.complete(REQUEST)


def test_server_error_is_not_a_subclass_surprise() -> None:
    with pytest.raises(BackendError) as caught:
        backend_with(lambda r: httpx.Response(503, json={"error": {}})).complete(REQUEST)
    assert type(caught.value) is BackendError


def test_transport_connect_error_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(BackendUnavailable, match="cannot reach"):
        backend_with(refuse).complete(REQUEST)


def test_timeout_is_backend_timeout() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    with pytest.raises(BackendTimeout):
        backend_with(slow).complete(REQUEST)


def test_real_connection_refused_is_unavailable() -> None:
    with socket.socket() as s:  # a port that was free a moment ago and has no listener now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = OpenAICompatBackend(f"http://127.0.0.1:{port}/v1", model="m", timeout_s=5)
    with pytest.raises(BackendUnavailable):
        backend.complete(REQUEST)


def test_missing_usage_is_backend_error() -> None:
    backend = backend_with(lambda r: sse(event("Hi", "stop")))
    with pytest.raises(BackendError, match="include_usage"):
        backend.complete(REQUEST)
