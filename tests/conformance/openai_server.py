"""A tiny OpenAI-compatible HTTP server on loopback that answers with any llmnet backend."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from llmnet.backends import Backend, ChatMessage, Chunk, GenerationRequest
from llmnet.errors import InputError


def _request_from_body(body: dict[str, Any]) -> GenerationRequest:
    messages = tuple(ChatMessage(m["role"], m["content"]) for m in body.get("messages", []))
    stop = body.get("stop") or ()
    return GenerationRequest(
        messages,
        max_tokens=body.get("max_tokens", 256),
        temperature=body.get("temperature", 0.0),
        seed=body.get("seed", 0),
        stop=(stop,) if isinstance(stop, str) else tuple(stop),
    )


def _sse_event(model: str, chunk: Chunk) -> dict[str, Any]:
    event: dict[str, Any] = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0}
    event["model"] = model
    delta = {"content": chunk.text} if chunk.text else {}
    event["choices"] = [{"index": 0, "delta": delta, "finish_reason": chunk.finish_reason}]
    if chunk.usage is not None:
        usage = chunk.usage
        event["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        }
    return event


def _handler_for(backend: Backend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if not self.path.endswith("/chat/completions"):
                self._json(404, {"error": {"message": f"no route {self.path}"}})
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            try:
                request = _request_from_body(body)
            except InputError as e:
                self._json(400, {"error": {"message": str(e), "type": "invalid_request_error"}})
                return
            self._stream(request)

        def _stream(self, request: GenerationRequest) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for chunk in backend.generate(request):
                event = json.dumps(_sse_event(backend.model_id, chunk))
                self.wfile.write(f"data: {event}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler


@contextmanager
def serve_openai(backend: Backend) -> Iterator[str]:
    """Serve ``backend`` at ``http://127.0.0.1:<free port>/v1`` for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(backend))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
