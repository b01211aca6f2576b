"""The one place llmnet errors become HTTP responses, in OpenAI's error format.

{"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": "..."}}
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

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

_HTTP_KINDS = {401: "authentication_error", 403: "permission_error", 404: "not_found_error"}
_HTTP_CODES = {404: "unknown_route", 405: "method_not_allowed"}

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


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorReply(BaseModel):
    """The body of every error a service answers, whatever its status (4xx or 5xx)."""

    error: ErrorDetail


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
    """Every error ``app`` answers, in OpenAI's format: llmnet's own, bad input, routing (404, 405), any 500."""

    @app.exception_handler(LlmnetError)
    async def _llmnet(_: Request, exc: LlmnetError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return http_error_response(request.method, request.url.path, exc)

    @app.exception_handler(ClientDisconnect)
    async def _gone(_: Request, exc: ClientDisconnect) -> JSONResponse:
        return JSONResponse(error_body("the client closed the connection", "invalid_request_error"), 400)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        return internal_error_response(exc)

    document_errors(app)


def document_errors(app: FastAPI) -> None:
    """/openapi.json says what errors look like: FastAPI's 422 (which no route answers) becomes
    a 400, and every operation lists :class:`ErrorReply` as its reply for any other status."""
    build = app.openapi

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            spec.setdefault("components", {}).setdefault("schemas", {}).update(_error_schemas())
            content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorReply"}}}
            reply = {"description": "an error, in OpenAI's format", "content": content}
            for operation in (op for item in spec["paths"].values() for op in item.values()):
                responses = operation.setdefault("responses", {})
                if responses.pop("422", None) is not None:
                    responses["400"] = reply | {"description": "a malformed request"}
                responses["default"] = reply
            for unused in ("HTTPValidationError", "ValidationError"):
                spec["components"]["schemas"].pop(unused, None)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]


def _error_schemas() -> dict[str, Any]:
    found = ErrorReply.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"ErrorReply": {k: v for k, v in found.items() if k != "$defs"}} | found.get("$defs", {})


def http_error_response(method: str, path: str, exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's and FastAPI's own errors (no such route, method not allowed, ...) in OpenAI's format."""
    status = exc.status_code
    kind = _HTTP_KINDS.get(status, "invalid_request_error" if status < 500 else "internal_error")
    message = exc.detail
    if status == 404 and message == "Not Found":
        message = f"no route {method} {path}; this service's API is listed at /openapi.json"
    elif status == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"{method} is not allowed on {path}" + (f"; use {allowed}" if allowed else "")
    code = _HTTP_CODES.get(status)
    return JSONResponse(error_body(str(message), kind, code), status_code=status, headers=exc.headers)


def internal_error_response(exc: Exception) -> JSONResponse:
    """A bug or an unexpected failure, answered without its traceback (the server logs that)."""
    message = f"internal error ({type(exc).__name__}); the service's log has the details"
    return JSONResponse(error_body(message, "internal_error", "internal_error"), status_code=500)


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """400 naming the first field that is wrong (FastAPI's default would be a 422 in its own format)."""
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = f"{where}: {first.get('msg', 'invalid request')}" if where else str(first.get("msg"))
    return JSONResponse(error_body(message, "invalid_request_error", "invalid_value", where or None), 400)
