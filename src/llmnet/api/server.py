"""Every llmnet service is served here: uvicorn, with the read deadlines and size limits it lacks.

uvicorn closes idle keep-alive connections but never times out a request while reading it: a
client that declares ``Content-Length: 1000`` and sends 20 bytes, or sends half its headers,
holds a connection (and a file descriptor) for ever. :class:`LimitedHttpProtocol`, uvicorn's
httptools protocol with a per-connection deadline, adds what :class:`HttpLimits` sets:

- the headers must arrive within ``header_timeout_s`` of the connection's opening (or of the
  request's first byte on a kept-alive connection), and be at most ``max_header_bytes``;
- the body must arrive within ``body_timeout_s`` of the headers, and be at most
  ``max_body_bytes``: a larger ``Content-Length`` is refused before a byte of it is read;
- an idle kept-alive connection is closed after ``idle_timeout_s``;
- beyond ``max_connections`` open connections, a new connection's request is answered 503.

Refusals (400, 408, 413, 431, 503) carry the OpenAI-style error body every other error has, and
close the connection. A request that arrives in one read arms no timer: the hot path pays a few
attribute checks per request.
"""

from __future__ import annotations

import asyncio
import json
from asyncio import TimerHandle
from typing import Any, ClassVar, NamedTuple

import httptools
import uvicorn
from pydantic import BaseModel, ConfigDict, Field
from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from llmnet.api.errors import error_body


class HttpLimits(BaseModel):
    """What one HTTP server allows its clients; every service's spec has one as ``http``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    idle_timeout_s: float = Field(default=5.0, gt=0, le=3600)  # a kept-alive connection without a request
    max_connections: int = Field(default=2048, ge=1)
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)  # request line and headers
    # a settlement batch of 200 outcomes is about 1 MB; a chat request is refused past 8,000 characters
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)


class Refusal(NamedTuple):
    status: int
    kind: str
    code: str
    message: str

    def body(self) -> bytes:
        return json.dumps(error_body(self.message, self.kind, self.code)).encode()

    def to_bytes(self) -> bytes:
        body = self.body()
        head = b"content-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
        return STATUS_LINE[self.status] + head + body


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; :meth:`LimitedHttpProtocol._feed` answers."""


class LimitedHttpProtocol(HttpToolsProtocol):
    """One connection, read under :attr:`limits` (set by :func:`protocol_for`)."""

    limits: ClassVar[HttpLimits] = HttpLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = self.limits.idle_timeout_s  # type: ignore[assignment]
        self.limit_concurrency = None  # connections are counted in connection_made, refused in JSON
        self._deadline: TimerHandle | None = None
        self._in_head = True  # waiting for a request's first byte or reading its headers
        self._in_body = False  # reading a request's body
        self._head_bytes = self._body_bytes = 0
        self._refusal: Refusal | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.app = too_many_connections  # this connection's one request gets a 503
        self._arm(self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        self._feed(data)
        if self.transport.is_closing():
            return
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(self._headers_too_large())
        elif self._deadline is None:  # a request split over reads: its rest must come in time
            if self._in_body:
                self._arm(self.limits.body_timeout_s)
            elif self._in_head and self._head_bytes:
                self._arm(self.limits.header_timeout_s)

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes, self._body_bytes = False, 0, 0
        size, has_body = declared_body(self.headers)
        if size > self.limits.max_body_bytes:
            self._refusal = self._body_too_large(size)
            raise _Refused
        self._in_body = has_body
        self._disarm()  # a request read in one piece never arms a timer (see data_received)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self.limits.max_body_bytes:  # a chunked body that never said its size
            self._refusal = self._body_too_large(self._body_bytes)
            raise _Refused
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head, self._in_body = True, False
        super().on_message_complete()

    def _feed(self, data: bytes) -> None:
        """uvicorn's ``data_received``, with its plain-text 400 (and warning) replaced by our refusals."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._refuse(self._refusal or malformed_request())
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.pipeline:  # reading is paused for a queued request: the wait is ours, not the client's
            self._arm(self.limits.body_timeout_s)
        elif self._in_head and self._head_bytes == 0:
            self.transport.close()  # a connection that never sent a request: nothing to answer
        else:
            self._refuse(self._too_slow())

    def _refuse(self, refusal: Refusal) -> None:
        """Answer ``refusal`` (unless a response is already under way) and close the connection."""
        self._disarm()
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(refusal.to_bytes())
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the application's own reply, if any, is not written after ours
            cycle.message_event.set()
        self.transport.close()

    def _too_slow(self) -> Refusal:
        part, field = ("headers", "header_timeout_s") if self._in_head else ("body", "body_timeout_s")
        seconds = getattr(self.limits, field)
        message = f"the request's {part} did not arrive within {seconds:g} s (http.{field}); send it at once"
        return Refusal(408, "timeout_error", "request_timeout", message)

    def _headers_too_large(self) -> Refusal:
        message = (f"the request line and headers exceed {self.limits.max_header_bytes} bytes "
                   f"(http.max_header_bytes); send fewer or shorter headers")  # fmt: skip
        return Refusal(431, "invalid_request_error", "headers_too_large", message)

    def _body_too_large(self, size: int) -> Refusal:
        message = (f"the request body is {'over ' if self._body_bytes else ''}{size} bytes; this server accepts "
                   f"at most {self.limits.max_body_bytes} (http.max_body_bytes)")  # fmt: skip
        return Refusal(413, "invalid_request_error", "request_too_large", message)


def declared_body(headers: list[tuple[bytes, bytes]]) -> tuple[int, bool]:
    """The body size a request declares, and whether it has a body (llhttp has checked the framing)."""
    for name, value in headers:
        if name == b"content-length":
            return int(value), value != b"0"
        if name == b"transfer-encoding":
            return 0, True
    return 0, False


def malformed_request() -> Refusal:
    message = "the request is not valid HTTP/1.1 (an unknown method, a malformed request line or header)"
    return Refusal(400, "invalid_request_error", "malformed_request", message)


async def too_many_connections(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    message = "this server has as many connections open as it accepts (http.max_connections); retry later"
    refusal = Refusal(503, "service_unavailable", "too_many_connections", message)
    body = refusal.body()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
               (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def protocol_for(limits: HttpLimits) -> type[LimitedHttpProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to ``limits``."""
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), {"limits": limits})


def server_for(app: Any, host: str, port: int, limits: HttpLimits) -> uvicorn.Server:
    """A uvicorn server for ``app`` under ``limits`` (``.run()`` it, or ``await .serve()``)."""
    config = uvicorn.Config(app, host=host, port=port, http=protocol_for(limits), log_level="warning",
                            access_log=False)  # fmt: skip
    return uvicorn.Server(config)


def serve(app: Any, host: str, port: int, limits: HttpLimits) -> None:
    """Serve ``app`` until the process is told to stop (SIGINT, SIGTERM)."""
    server_for(app, host, port, limits).run()
