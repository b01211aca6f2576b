"""What a hostile or careless client meets at each service of a running network: strictly typed
requests, OpenAI-style errors for every status (routing and HTTP framing included), read deadlines
that close stalled requests, and the whole API in each service's /openapi.json."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from llmnet.api.schema import ChatCompletion
from llmnet.api.server import HttpLimits
from llmnet.launcher import Network, RespondentPlan
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

LIMITS = HttpLimits(header_timeout_s=2.0, body_timeout_s=2.0)
MARGIN = 3.0  # seconds beyond a deadline that a slow, shared machine may take
FAKE = {"model_id": "fake-echo"}
RESPONDENTS = (
    RespondentPlan("fake-a", ("general",), backend="fake", options=FAKE),
    RespondentPlan("fake-b", ("general",), backend="fake", options=FAKE),
)
GOOD = {"model": "llmnet/general", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    with running_network(tmp_path_factory.mktemp("net"), RESPONDENTS, judge="fake", validators=1, k=2, rounds=0,
                         gold_rate=0.0, spot_check_rate=0.0, http=LIMITS) as network:  # fmt: skip
        yield network


def root(net: Network, role: str = "coordinator") -> str:
    return next(s.url for s in net.services if s.role == role)


def chat(net: Network, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {net.api_key}"}
    return httpx.post(f"{net.base_url}/chat/completions", headers=headers, json=body, timeout=60)


def openai_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    error: dict[str, Any] = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return error


def raw(net: Network, request: bytes) -> tuple[bytes, float]:
    """Send ``request`` bytes to the coordinator; what it answers before closing, and how long it took."""
    port = int(root(net).rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=LIMITS.body_timeout_s + 30) as sock:
        sock.sendall(request)
        started, reply = time.monotonic(), b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply, time.monotonic() - started


@pytest.mark.parametrize(
    ("field", "value"),
    [("stream", "yes"), ("max_tokens", "10"), ("temperature", "0.5"), ("llmnet", {"k": "3"}),
     ("max_tokens", 10.5), ("stream", 1), ("seed", "7"), ("llmnet", {"rounds": True}), ("llmnet", {"kk": 3})],
)  # fmt: skip
def test_mistyped_fields_are_refused_with_400(net: Network, field: str, value: Any) -> None:
    error = openai_error(chat(net, GOOD | {field: value}), 400)
    assert error["type"] == "invalid_request_error" and error["param"].startswith(field)


def test_numbers_of_either_kind_are_accepted_where_openai_accepts_them(net: Network) -> None:
    resp = chat(net, GOOD | {"temperature": 1, "max_tokens": 16, "llmnet": {"k": 2}})
    assert resp.status_code == 200, resp.text
    assert ChatCompletion.model_validate(resp.json()).choices[0].message.content  # the reply /openapi.json lists


def test_routing_errors_are_openai_shaped(net: Network) -> None:
    assert openai_error(httpx.get(f"{root(net)}/v1/nothing-here"), 404)["type"] == "not_found_error"
    error = openai_error(httpx.get(f"{net.base_url}/chat/completions"), 405)
    assert "POST" in error["message"]
    reply, _ = raw(net, b"BREW /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400") and b'"invalid_request_error"' in reply


def test_a_bad_conversation_id_is_a_client_error(net: Network) -> None:
    assert openai_error(httpx.get(f"{root(net)}/ui/api/conversations/-1"), 400)["param"] == "path.cid"
    openai_error(httpx.get(f"{root(net)}/ui/api/conversations/1000000", timeout=30), 404)


def test_a_stalled_body_is_answered_408_within_the_deadline(net: Network) -> None:
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n") % net.api_key.encode()  # fmt: skip
    reply, waited = raw(net, head + b'{"model": "llmnet/ge')
    assert reply.startswith(b"HTTP/1.1 408") and b"body_timeout_s" in reply
    assert waited <= LIMITS.body_timeout_s + MARGIN


def test_half_sent_headers_are_closed_within_the_deadline(net: Network) -> None:
    reply, waited = raw(net, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
    assert reply.startswith(b"HTTP/1.1 408")
    assert waited <= LIMITS.header_timeout_s + MARGIN


def test_an_oversize_body_is_refused_before_it_is_read(net: Network) -> None:
    size = LIMITS.max_body_bytes + 1
    reply, _ = raw(net, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
    assert reply.startswith(b"HTTP/1.1 413") and b"max_body_bytes" in reply


@pytest.mark.parametrize(
    ("role", "path", "body"),
    [("coordinator", "/v1/chat/completions", "ChatCompletionRequest"), ("respondent", "/v1/respond", "RespondRequest"),
     ("validator", "/v1/rate", "RateRequest"), ("validator", "/v1/settle", "SettleRequest")],
)  # fmt: skip
def test_openapi_lists_every_route_with_its_body(net: Network, role: str, path: str, body: str) -> None:
    schema = httpx.get(f"{root(net, role)}/openapi.json").json()
    request = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert request == {"$ref": f"#/components/schemas/{body}"} and body in schema["components"]["schemas"]
