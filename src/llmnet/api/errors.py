"""The one place llmnet errors become HTTP responses, in OpenAI's error format.

{"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": "..."}}
"""

from __future__ import annotations

import json
from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from llmnet.errors import (
    AuthenticationError,
    BackendError,
    BackendRateLimited,
    BackendTimeout,
    BackendUnavailable,
    BadRanking,
    ChainError,
    ContentNotFound,
    InputError,
    LlmnetError,
    NoRespondents,
    NotFound,
    QuotaExceeded,
    SignatureError,
    UnknownConversation,
)

# most specific first
_STATUS: tuple[tuple[type[LlmnetError], int, str], ...] = (
    (AuthenticationError, 401, "authentication_error"),
    (SignatureError, 403, "permission_error"),
    (QuotaExceeded, 402, "insufficient_quota"),
    (NotFound, 404, "not_found_error"),
    (ContentNotFound, 404, "not_found_error"),
    (InputError, 400, "invalid_request_error"),
    (BackendRateLimited, 429, "rate_limit_error"),
    (BackendTimeout, 504, "timeout_error"),
    (BackendUnavailable, 503, "service_unavailable"),
    (NoRespondents, 503, "service_unavailable"),
    (BackendError, 502, "upstream_error"),
    (BadRanking, 400, "invalid_request_error"),
    (UnknownConversation, 404, "not_found_error"),
    (ChainError, 503, "chain_unavailable"),
)


M = TypeVar("M", bound=BaseModel)


def parse_json(model: type[M], body: bytes) -> M:
    """A request body parsed and validated in one pass (pydantic-core reads the JSON itself);
    anything wrong is answered like FastAPI's own validation errors: 400, with the field."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def error_body(message: str, kind: str, code: str | None = None, param: str | None = None) -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def status_for(exc: LlmnetError) -> tuple[int, str]:
    for cls, status, kind in _STATUS:
        if isinstance(exc, cls):
            return status, kind
    return 500, "internal_error"


def error_response(exc: LlmnetError) -> JSONResponse:
    status, kind = status_for(exc)
    headers = {}
    if isinstance(exc, BackendRateLimited) and exc.retry_after is not None:
        headers["Retry-After"] = f"{exc.retry_after:g}"
    return JSONResponse(error_body(str(exc), kind, type(exc).__name__), status_code=status, headers=headers)


def sse_error(exc: LlmnetError) -> str:
    """An error as the last event of a stream that had already started."""
    _, kind = status_for(exc)
    return f"data: {json.dumps(error_body(str(exc), kind, type(exc).__name__))}\n\n"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LlmnetError)
    async def _llmnet(_: Request, exc: LlmnetError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc)


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """400 naming the first field that is wrong (FastAPI's default would be a 422 in its own format)."""
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = f"{where}: {first.get('msg', 'invalid request')}" if where else str(first.get("msg"))
    return JSONResponse(error_body(message, "invalid_request_error", "invalid_value", where or None), 400)
