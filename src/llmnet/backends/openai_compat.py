"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, another llmnet node).

    backend = OpenAICompatBackend("http://127.0.0.1:8080/v1", model="smollm2")

Pass ``http_client=httpx.Client(transport=...)`` to route requests through your own transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import httpx
import openai

from llmnet.backends.base import Backend, Chunk, GenerationRequest, Usage
from llmnet.errors import (
    BackendError,
    BackendRateLimited,
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
    InputError,
    LlmnetError,
)


class OpenAICompatBackend(Backend):
    """Streams chat completions from ``base_url``. Retries are left to the caller (``max_retries=0``)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "not-needed",
        http_client: httpx.Client | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 0,
        deterministic: bool = False,
    ) -> None:
        self.base_url = base_url
        self.model_id = model
        self.deterministic = deterministic
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key,
            # the SDK accepts httpx.Client at run time though its annotation names httpx2.Client
            http_client=cast(Any, http_client),
            timeout=timeout_s,
            max_retries=max_retries,
        )

    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        try:
            yield from self._stream(request)
        except openai.OpenAIError as e:
            raise translate_error(e, self.base_url) from e

    def _stream(self, request: GenerationRequest) -> Iterator[Chunk]:
        stream = self._client.chat.completions.create(
            model=self.model_id,
            messages=[cast(Any, {"role": m.role, "content": m.content}) for m in request.messages],
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            seed=request.seed,
            stop=list(request.stop) or None,
            stream=True,
            stream_options={"include_usage": True},
        )
        finish_reason: str | None = None
        usage: Usage | None = None
        with stream:
            for event in stream:
                for choice in event.choices:
                    if choice.delta.content:
                        yield Chunk(choice.delta.content)
                    finish_reason = choice.finish_reason or finish_reason
                if event.usage is not None:
                    usage = Usage(event.usage.prompt_tokens, event.usage.completion_tokens)
        yield _final_chunk(self.base_url, finish_reason, usage)


def _final_chunk(base_url: str, finish_reason: str | None, usage: Usage | None) -> Chunk:
    if usage is None:
        raise BackendError(f"{base_url} sent no usage; it must support stream_options.include_usage")
    return Chunk("", finish_reason or "stop", usage)


def translate_error(error: openai.OpenAIError, base_url: str) -> LlmnetError:
    """The llmnet error for an ``openai`` SDK error."""
    if isinstance(error, openai.APITimeoutError):
        return BackendTimeout(f"{base_url} did not answer in time")
    if isinstance(error, openai.APIConnectionError):
        return BackendUnavailable(f"cannot reach {base_url}: {error}; is the server running?")
    if isinstance(error, openai.RateLimitError):
        retry_after = _retry_after(error.response.headers)
        return BackendRateLimited(f"{base_url} is rate limiting (retry after {retry_after} s)", retry_after)
    if isinstance(error, openai.APIStatusError):
        return _status_error(error, base_url)
    return BackendError(f"{base_url}: {error}")


def _status_error(error: openai.APIStatusError, base_url: str) -> LlmnetError:
    status = error.status_code
    if status in (401, 403):
        return ConfigError(f"{base_url} refused the API key (HTTP {status}); check api_key")
    if status == 404:
        return ConfigError(f"{base_url} has no such model or route (HTTP 404); check base_url and model")
    if status in (400, 422):
        return InputError(f"{base_url} rejected the request (HTTP {status}): {error.message}")
    return BackendError(f"{base_url} failed (HTTP {status}): {error.message}")


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date; rare for APIs and not worth parsing
