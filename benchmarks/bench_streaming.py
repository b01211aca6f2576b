"""Streaming through the network against the raw local backend, in one run.

    .venv/bin/python benchmarks/bench_streaming.py [--runs 4] [--max-tokens 96] [--json OUT.json]

The same prompt, at temperature 0 with the same seed, is streamed by SmolLM2-135M (llama.cpp,
one thread) two ways that take turns, so both see the same machine conditions:

- raw: the llama.cpp backend called in this process, no network at all;
- network: the official ``openai`` SDK streaming from the coordinator of a network on the
  embedded chain (k = 1, no debate), through one respondent serving the same model.

For each it prints time to first token and tokens/s after the first token; the goal is a
network/raw ratio of at least 0.95. Both must produce the same text (the run fails otherwise):
the network relays the model's tokens, it does not change them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openai import OpenAI
from rich.console import Console
from rich.table import Table

from llmnet.backends import create_backend
from llmnet.backends.base import Backend, ChatMessage, GenerationRequest
from llmnet.config import load_settings
from llmnet.launcher import Network, NetworkOptions, RespondentPlan

PROMPT = "Describe, step by step, how a refracting telescope forms an image."
MODEL = {"model": "smollm2", "n_threads": 1}


@dataclass
class Stream:
    first_s: float  # time to the first text
    total_s: float
    pieces: int  # text pieces received after the first
    text: str

    def rate(self, tokens: int) -> float:
        """Tokens per second after the first one (the decode rate a reader sees)."""
        return (tokens - 1) / max(self.total_s - self.first_s, 1e-9)


def stream_raw(backend: Backend, max_tokens: int) -> tuple[Stream, int]:
    request = GenerationRequest((ChatMessage("user", PROMPT),), max_tokens=max_tokens, temperature=0.0, seed=0)
    t0 = time.perf_counter()
    first, parts, tokens = 0.0, [], 0
    for chunk in backend.generate(request):
        if chunk.text and not parts:
            first = time.perf_counter() - t0
        if chunk.text:
            parts.append(chunk.text)
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    return Stream(first, time.perf_counter() - t0, len(parts) - 1, "".join(parts).strip()), tokens


def stream_network(client: OpenAI, max_tokens: int) -> Stream:
    t0 = time.perf_counter()
    first, parts = 0.0, []
    stream = client.chat.completions.create(
        model="llmnet/general", messages=[{"role": "user", "content": PROMPT}], max_tokens=max_tokens,
        temperature=0.0, seed=0, stream=True,
    )  # fmt: skip
    for event in stream:
        delta = event.choices[0].delta.content if event.choices else None
        if delta:
            if not parts:
                first = time.perf_counter() - t0
            parts.append(delta)
    return Stream(first, time.perf_counter() - t0, len(parts) - 1, "".join(parts).strip())


def measure(runs: int, max_tokens: int, base_port: int) -> dict[str, Any]:
    backend = create_backend("llamacpp", **MODEL)
    plan = RespondentPlan("general", ("general",), options=dict(MODEL))
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), chain_port=base_port + 45)
        options = NetworkOptions(coordinator_port=base_port, respondent_base_port=base_port + 11,
                                 validator_base_port=base_port + 21, respondents=(plan,), judge="fake", k=1,
                                 rounds=0, rate=False, max_tokens=max_tokens, gold_rate=0.0)  # fmt: skip
        net = Network(settings, options)
        net.start()
        try:
            client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=300, max_retries=0)
            stream_raw(backend, 8), stream_network(client, 8)  # warm both paths up
            raw, network, tokens = [], [], 0
            for _ in range(runs):
                r, tokens = stream_raw(backend, max_tokens)
                raw.append(r)
                network.append(stream_network(client, max_tokens))
        finally:
            net.stop()
    mismatched = [n.text for n in network if n.text != raw[0].text]
    if mismatched or any(r.text != raw[0].text for r in raw):
        raise SystemExit(f"the network's text differs from the raw backend's:\n{raw[0].text!r}\n{mismatched[:1]!r}")
    return {"raw": raw, "network": network, "tokens": tokens}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--port", type=int, default=19100, help="first of the ports the network uses")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    m = measure(args.runs, args.max_tokens, args.port)
    tokens = m["tokens"]
    table = Table(title=f"streaming {tokens} tokens of SmolLM2-135M (llama.cpp, 1 thread), {args.runs} runs each, "
                        "taking turns")  # fmt: skip
    for col in ("path", "first token (ms, median)", "tokens/s after it (median)", "pieces streamed"):
        table.add_column(col, justify="left" if col == "path" else "right")
    figures: dict[str, float] = {"tokens": tokens}
    for name in ("raw", "network"):
        streams: list[Stream] = m[name]
        first = statistics.median(s.first_s for s in streams) * 1000
        rate = statistics.median(s.rate(tokens) for s in streams)
        table.add_row(name, f"{first:.0f}", f"{rate:.1f}", str(streams[0].pieces + 1))
        figures |= {f"{name}_first_token_ms": first, f"{name}_tokens_per_s": rate}
    ratio = figures["network_tokens_per_s"] / figures["raw_tokens_per_s"]
    figures["stream_ratio"] = ratio
    console = Console(width=max(110, Console().width))
    console.print(table)
    verdict = "met" if ratio >= 0.95 else "NOT met"
    console.print(f"network / raw tokens/s: {ratio:.3f} (goal >= 0.95: {verdict}); the texts are identical")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
