"""Every status a service answers is an OpenAI-style error, and its API is all in /openapi.json:
the coordinator's app in-process (its lifespan, which needs a chain, is not run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from llmnet.api.errors import install_error_handlers, parse_json, validation_response
from llmnet.api.openai_app import CoordinatorSpec, create_coordinator_app
from llmnet.api.routes import HotRoute, HotRoutes
from llmnet.api.schema import ChatCompletionRequest
from llmnet.roles.common import AccountSpec, ChainSpec

GOOD = {"model": "llmnet/general", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    here = tmp_path_factory.mktemp("coordinator")
    chain = ChainSpec(rpc_url="http://127.0.0.1:9", deployments_file=here / "deployments.json")
    spec = CoordinatorSpec(name="c", port=9, account=AccountSpec(dev_index=1), chain=chain, data_dir=here)
    return TestClient(create_coordinator_app(spec), raise_server_exceptions=False)


def openai_error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    error: dict[str, Any] = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return error


@pytest.mark.parametrize(
    ("field", "value"),
    [("stream", "yes"), ("max_tokens", "10"), ("temperature", "0.5"), ("llmnet", {"k": "3"}), ("seed", 7.0),
     ("max_completion_tokens", True), ("llmnet", {"k": 3, "rouds": 1}), ("messages", "hello")],
)  # fmt: skip
def test_mistyped_chat_fields_are_a_400_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(RequestValidationError) as refused:
        parse_json(ChatCompletionRequest, json.dumps(GOOD | {field: value}).encode())
    resp = validation_response(refused.value)
    error = json.loads(bytes(resp.body))["error"]
    assert resp.status_code == 400 and error["type"] == "invalid_request_error" and error["param"].startswith(field)


def test_an_integer_is_a_valid_temperature() -> None:
    req = parse_json(ChatCompletionRequest, json.dumps(GOOD | {"temperature": 1, "llmnet": {"k": 2}}).encode())
    assert req.temperature == 1.0 and req.llmnet.k == 2


def test_routing_errors_are_openai_shaped(coordinator: TestClient) -> None:
    assert openai_error(coordinator.get("/v1/no-such-route"), 404)["type"] == "not_found_error"
    assert openai_error(coordinator.get("/ui/static/missing.js"), 404)["code"] == "unknown_route"
    resp = coordinator.get("/v1/chat/completions")
    assert "use POST" in openai_error(resp, 405)["message"] and resp.headers["allow"] == "POST"
    openai_error(coordinator.request("PROPFIND", "/v1/models"), 405)


def test_a_negative_conversation_id_is_a_400(coordinator: TestClient) -> None:
    assert openai_error(coordinator.get("/ui/api/conversations/-1"), 400)["param"] == "path.cid"
    openai_error(coordinator.get(f"/ui/api/conversations/{2**256}"), 400)


def test_unexpected_failures_are_an_openai_500() -> None:
    class Ping(BaseModel):
        n: int

    async def broken(request: Request) -> Response:
        raise RuntimeError("a bug")

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/broken")
    def broken_route() -> None:
        raise RuntimeError("a bug")

    client = TestClient(HotRoutes(app, {"/hot": HotRoute(broken, Ping)}), raise_server_exceptions=False)
    for resp in (client.get("/broken"), client.post("/hot", json={"n": 1})):
        error = openai_error(resp, 500)
        assert error["type"] == "internal_error" and "RuntimeError" in error["message"]


def test_openapi_lists_chat_completions_with_its_body_and_errors(coordinator: TestClient) -> None:
    schema = coordinator.get("/openapi.json").json()
    chat = schema["paths"]["/v1/chat/completions"]["post"]
    body = chat["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    reply = chat["responses"]["200"]["content"]["application/json"]["schema"]
    assert reply == {"$ref": "#/components/schemas/ChatCompletion"}
    assert {"ChatCompletionRequest", "LlmnetOptions", "ErrorReply"} <= set(schema["components"]["schemas"])
    for operation in (op for item in schema["paths"].values() for op in item.values()):
        assert "422" not in operation["responses"] and "default" in operation["responses"]


def test_every_service_spec_takes_http_limits(tmp_path: Path) -> None:
    chain = ChainSpec(rpc_url="http://127.0.0.1:9", deployments_file=tmp_path / "d.json")
    spec = CoordinatorSpec.model_validate({"name": "c", "port": 9, "account": {"dev_index": 1}, "chain": chain,
                                           "data_dir": tmp_path, "http": {"body_timeout_s": 5}})  # fmt: skip
    assert spec.http.body_timeout_s == 5 and spec.http.header_timeout_s == 10
    with pytest.raises(ValueError, match="body_timeot_s"):
        CoordinatorSpec.model_validate(spec.model_dump() | {"http": {"body_timeot_s": 5}})
