"""A real OpenAI-compatible server for tests: llama.cpp's own HTTP server (through xllamacpp) on
127.0.0.1, serving a packaged GGUF model with its /metrics endpoint on.

    python tests/integration/openai_server.py PORT [smollm2|gemma3-270m]
"""

from __future__ import annotations

import signal
import sys
import threading

import xllamacpp

from llmnet.backends.llamacpp import MODELS


def main(port: int, model: str) -> None:
    params = xllamacpp.CommonParams()
    params.model.path = str(MODELS[model]())
    params.n_ctx = 2048
    params.n_parallel = 1
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.endpoint_metrics = True
    server = xllamacpp.Server(params)
    print(f"listening on {server.listening_address}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "smollm2")
