"""The HTTP server every service runs, on a real socket: stalled, oversized and malformed requests
are answered with an OpenAI-style error and closed; good requests still get through."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request

from llmnet.api.errors import install_error_handlers
from llmnet.api.server import HttpLimits, server_for
from tests.conftest import free_port

LIMITS = HttpLimits(header_timeout_s=1.0, body_timeout_s=1.0, idle_timeout_s=1.0, max_connections=8,
                    max_header_bytes=4096, max_body_bytes=10_000)  # fmt: skip
MARGIN = 2.0  # seconds beyond a deadline that a slow, shared machine may take


def echo_app(calls: list[bytes]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        calls.append(body)
        return {"size": len(body)}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"ok": "yes"}

    return app


@pytest.fixture
def served() -> Iterator[tuple[int, list[bytes]]]:
    """A port with the echo app served under ``LIMITS``, and the bodies the app has read."""
    calls: list[bytes] = []
    port = free_port()
    server = server_for(echo_app(calls), "127.0.0.1", port, LIMITS)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    yield port, calls
    server.should_exit = True
    thread.join(10)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=LIMITS.header_timeout_s + 10)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def status_and_error(reply: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, json.loads(body)["error"]


def timed_close(sock: socket.socket) -> tuple[bytes, float]:
    started = time.monotonic()
    reply = read_until_closed(sock)
    return reply, time.monotonic() - started


def test_a_body_shorter_than_its_content_length_is_answered_408_and_closed(served: tuple[int, list[bytes]]) -> None:
    port, calls = served
    with connect(port) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n" + b"x" * 20)  # fmt: skip
        reply, waited = timed_close(sock)
    status, error = status_and_error(reply)
    assert status == 408 and error["type"] == "timeout_error" and "body_timeout_s" in error["message"]
    assert waited <= LIMITS.body_timeout_s + MARGIN
    assert calls == []


def test_half_the_headers_is_answered_408_and_closed(served: tuple[int, list[bytes]]) -> None:
    port, _ = served
    with connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        reply, waited = timed_close(sock)
    status, error = status_and_error(reply)
    assert status == 408 and "header_timeout_s" in error["message"]
    assert waited <= LIMITS.header_timeout_s + MARGIN


def test_idle_sockets_are_closed(served: tuple[int, list[bytes]]) -> None:
    """Connections that never send a byte, and kept-alive ones after an answer, are all closed."""
    port, _ = served
    silent = [connect(port) for _ in range(5)]
    answered = connect(port)
    answered.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b'{"ok":"yes"}' in answered.recv(65536)
    started = time.monotonic()
    for sock in [*silent, answered]:
        with sock:
            assert read_until_closed(sock) == b""
    assert time.monotonic() - started <= max(LIMITS.header_timeout_s, LIMITS.idle_timeout_s) + MARGIN


def test_a_declared_oversize_body_gets_413_before_it_is_sent(served: tuple[int, list[bytes]]) -> None:
    port, calls = served
    with connect(port) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10001\r\n\r\n")
        status, error = status_and_error(read_until_closed(sock))
    assert status == 413 and error["code"] == "request_too_large" and "10001" in error["message"]
    assert calls == []


def test_an_oversize_chunked_body_gets_413(served: tuple[int, list[bytes]]) -> None:
    port, calls = served
    chunk = b"%x\r\n%s\r\n" % (6000, b"y" * 6000)
    with connect(port) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 2)
        status, error = status_and_error(read_until_closed(sock))
    assert status == 413 and "max_body_bytes" in error["message"]
    assert calls == []


def test_oversize_headers_get_431(served: tuple[int, list[bytes]]) -> None:
    port, _ = served
    with connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * 5000)
        status, error = status_and_error(read_until_closed(sock))
    assert status == 431 and error["code"] == "headers_too_large"


def test_an_unknown_method_gets_an_openai_error(served: tuple[int, list[bytes]]) -> None:
    port, _ = served
    with connect(port) as sock:
        sock.sendall(b"BREW /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, error = status_and_error(read_until_closed(sock))
    assert status == 400 and error["type"] == "invalid_request_error" and error["message"]


def test_connections_past_the_limit_get_503(served: tuple[int, list[bytes]]) -> None:
    port, _ = served
    held = [connect(port) for _ in range(LIMITS.max_connections)]
    time.sleep(0.2)  # the server has accepted them
    with connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, error = status_and_error(read_until_closed(sock))
    assert status == 503 and error["code"] == "too_many_connections"
    for sock in held:
        sock.close()


def test_good_requests_are_served_on_one_kept_alive_connection(served: tuple[int, list[bytes]]) -> None:
    port, calls = served
    body = json.dumps({"text": "z" * 5000}).encode()
    request = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with connect(port) as sock:
        for _ in range(3):
            sock.sendall(request)
            reply = sock.recv(65536)
            assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b'{"size":%d}' % len(body))
    assert calls == [body] * 3


def test_a_body_sent_in_pieces_within_the_deadline_is_served(served: tuple[int, list[bytes]]) -> None:
    port, calls = served
    body = b"b" * 9000
    with connect(port) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 9000\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 100")
        for i in range(0, len(body), 3000):
            sock.sendall(body[i : i + 3000])
            time.sleep(LIMITS.body_timeout_s / 5)
        assert sock.recv(65536).endswith(b'{"size":9000}')
    assert calls == [body]


def test_pipelined_requests_are_answered_in_order(served: tuple[int, list[bytes]]) -> None:
    port, calls = served
    one, two = (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b) for b in (b"1", b"22"))
    with connect(port) as sock:
        sock.sendall(one + two + b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        replies = read_until_closed(sock)
    assert replies.count(b"HTTP/1.1 200") == 3
    assert replies.index(b'{"size":1}') < replies.index(b'{"size":2}') < replies.index(b'{"ok":"yes"}')
    assert calls == [b"1", b"22"]
