"""What the HTTP limits cost per request: uvicorn's httptools protocol against llmnet's
LimitedHttpProtocol (read deadlines, size limits), serving the same small POST route.

    .venv/bin/python benchmarks/bench_http_server.py [--seconds 5] [--rounds 3] [--concurrency 32]

Each round serves the route once with each protocol (in a separate process, on 127.0.0.1) and
loads it from this process over kept-alive connections; prints the requests/s of each and the
server process's CPU time per request (less sensitive to a busy machine), medians over the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from llmnet.api.errors import parse_json
from llmnet.api.http_client import KeepAliveClient
from llmnet.api.routes import HotRoute, HotRoutes
from llmnet.api.server import HttpLimits, protocol_for
from llmnet.errors import BackendUnavailable

PORT = 18931
BODY = {"model": "llmnet/general", "messages": [{"role": "user", "content": "x" * 200}]}


class Ping(BaseModel):
    model: str
    messages: list[dict[str, str]]


def app() -> HotRoutes:
    async def ping(request: Request) -> Response:
        req = parse_json(Ping, await request.body())
        return Response(b'{"model": "%s"}' % req.model.encode(), media_type="application/json")

    return HotRoutes(FastAPI(), {"/v1/ping": HotRoute(ping, Ping)})


def serve(kind: str) -> None:
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    protocol = protocol_for(HttpLimits()) if kind == "limited" else HttpToolsProtocol
    uvicorn.run(app(), host="127.0.0.1", port=PORT, http=protocol, log_level="warning", access_log=False)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(seconds: float, concurrency: int) -> tuple[float, int]:
    client = KeepAliveClient(per_host=concurrency)
    url = f"http://127.0.0.1:{PORT}/v1/ping"
    await client.post_json(url, BODY, 10)
    done = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop:
            await client.post_json(url, BODY, 10)
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rate = done / (time.monotonic() - started)
    await client.aclose()
    return rate, done


def measure(kind: str, seconds: float, concurrency: int) -> tuple[float, float]:
    """Requests per second, and the server's CPU time per request in microseconds."""
    server = subprocess.Popen([sys.executable, __file__, "--serve", kind])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(load(0.5, 2))  # up, and warm
                break
            except BackendUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        cpu = cpu_seconds(server.pid)
        rate, done = asyncio.run(load(seconds, concurrency))
        return rate, 1e6 * (cpu_seconds(server.pid) - cpu) / done
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serve", choices=["plain", "limited"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    runs: dict[str, list[tuple[float, float]]] = {"plain": [], "limited": []}
    for _ in range(args.rounds):
        for kind, found in runs.items():
            found.append(measure(kind, args.seconds, args.concurrency))
    cpu = {kind: statistics.median(c for _, c in found) for kind, found in runs.items()}
    for kind, found in runs.items():
        rate = statistics.median(r for r, _ in found)
        print(f"{kind:8} {rate:7.0f} requests/s   server CPU {cpu[kind]:6.1f} us/request   "
              f"(rounds: {[round(r) for r, _ in found]} requests/s)")  # fmt: skip
    print(f"the limits add {cpu['limited'] - cpu['plain']:+.1f} us of server CPU per request")


if __name__ == "__main__":
    main()
