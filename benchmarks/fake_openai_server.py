"""A plain OpenAI-compatible server over an instant fake backend: the "direct" baseline.

python benchmarks/fake_openai_server.py PORT
"""

from __future__ import annotations

import sys
import time
from typing import Any

import uvicorn
from fastapi import FastAPI

from llmnet.backends.base import ChatMessage, GenerationRequest
from llmnet.backends.fake import FakeBackend

backend = FakeBackend(model_id="fake-echo")
app = FastAPI()


@app.post("/v1/chat/completions")
def chat(body: dict[str, Any]) -> dict[str, Any]:
    messages = tuple(ChatMessage(m["role"], m["content"]) for m in body["messages"])
    c = backend.complete(GenerationRequest(messages, max_tokens=body.get("max_tokens") or 64))
    return {
        "id": "chatcmpl-direct", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": c.text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": c.usage.prompt_tokens, "completion_tokens": c.usage.completion_tokens,
                  "total_tokens": c.usage.total_tokens},
    }  # fmt: skip


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
