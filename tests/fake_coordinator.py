"""An in-process stand-in for a coordinator's OpenAI-compatible API on 127.0.0.1: answers come from
a function of the request, each answer carries an llmnet block shaped like the coordinator's (task
id, receipt with fee and respondents, usage in whitespace words), every request is counted, and
chosen requests can be refused (429 with Retry-After, 5xx) or held until released."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[str, list[dict[str, str]]], str]
# (request number from 1, model) -> None to answer, or (status, headers) to refuse
Refusal = Callable[[int, str], tuple[int, dict[str, str]] | None]


def prompt_of(messages: list[dict[str, str]]) -> str:
    return messages[-1]["content"]


@dataclass
class FakeCoordinator:
    responder: Responder
    refuse: Refusal = lambda n, model: None
    fee_per_respondent_wei: int = 10**13
    known_models: tuple[str, ...] = ("llmnet/auto", "llmnet/general", "llmnet/medicine")
    requests: list[dict[str, Any]] = field(default_factory=list)  # every request, refused or not
    answered: list[dict[str, Any]] = field(default_factory=list)
    hold_at: int | None = None  # hold the request with this number until ``release`` is set
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self.lock:
            self.requests.append(body)
            n = len(self.requests)
        if n == self.hold_at:
            self.held.set()
            self.release.wait(60)
        model = body["model"]
        if model not in self.known_models:
            return 404, {}, {"error": {"message": f"model {model!r} does not exist", "code": "model_not_found"}}
        refusal = self.refuse(n, model)
        if refusal is not None:
            status, headers = refusal
            return status, headers, {"error": {"message": f"refused with {status}", "type": "rate_limit"}}
        return 200, {}, self.answer(n, body)

    def answer(self, n: int, body: dict[str, Any]) -> dict[str, Any]:
        words = self.responder(body["model"], body["messages"]).split()[: body.get("max_tokens") or 10**6]
        k = (body.get("llmnet") or {}).get("k", 3)
        fee = self.fee_per_respondent_wei * k
        usage = {"prompt_tokens": sum(len(m["content"].split()) for m in body["messages"]),
                 "completion_tokens": len(words)}  # fmt: skip
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        respondents = [{"address": f"0x{i + 1:040x}", "answered": True} for i in range(k)]
        receipt = {"task_key": hex(n), "fee_wei": fee, "respondents": respondents,
                   "fee_split_wei": {r["address"]: fee // k for r in respondents}}  # fmt: skip
        with self.lock:
            self.answered.append(body)
        return {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": " ".join(words)},
                             "finish_reason": "stop"}],
                "usage": usage, "llmnet": {"task_id": hex(n), "receipt": receipt}}  # fmt: skip


def _handler(fake: FakeCoordinator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, headers, payload = fake.handle(body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client killed mid-call
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve_fake_coordinator(fake: FakeCoordinator) -> Iterator[str]:
    """Serve ``fake`` at ``http://127.0.0.1:<free port>/v1`` for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
        thread.join()
