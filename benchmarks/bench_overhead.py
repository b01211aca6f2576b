"""What routing through llmnet costs, against calling one instant fake backend directly.

    .venv/bin/python benchmarks/bench_overhead.py [--requests 1000] [--seconds 10] [--json OUT.json]

Prints, in one run:
- latency p50/p95 of sequential requests: direct to an OpenAI-compatible server over an instant
  fake backend, and through the coordinator (k = 1, no rating) to a respondent over the same
  fake backend; the difference is the coordinator's added latency (goal: <= 2 ms at p50);
- routed requests per second under concurrent load with full on-chain accounting (every task
  opened in escrow and settled in batches), with k = 1 and no validators rating (goal: >= 300/s),
  and with k = 3 and two validators; and how long the chain took to catch up afterwards.
- the k = 1 figures again with the coordinator fsyncing each answered task before returning it
  (``record_fsync_interval_s = 0``) instead of its default (in the write-ahead log before, fsynced
  within 100 ms after).
- LiteLLM's proxy in front of the same fake backend, when `bash benchmarks/setup_litellm.sh` has
  installed it (in its own virtualenv under .bench/).
All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from llmnet.config import load_settings
from llmnet.launcher import Network, NetworkOptions, RespondentPlan

HERE = Path(__file__).parent
FAKE = {"model_id": "fake-echo"}
RESPONDENTS = tuple(RespondentPlan(f"fake-{i}", ("general",), backend="fake", options=FAKE) for i in range(3))
BODY = {"model": "llmnet/general", "messages": [{"role": "user", "content": "hello network"}], "max_tokens": 16}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sequential_latency(url: str, key: str, n: int, extra: dict[str, Any]) -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=30) as client:
        for _ in range(200):  # warm up connections, caches and the chain reads behind them
            client.post(url, json=BODY | extra, headers=headers).raise_for_status()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            client.post(url, json=BODY | extra, headers=headers).raise_for_status()
            times.append((time.perf_counter() - t0) * 1000)
    return times


async def _load(url: str, key: str, seconds: float, concurrency: int, extra: dict[str, Any]) -> tuple[int, int]:
    headers = {"Authorization": f"Bearer {key}"}
    deadline = time.perf_counter() + seconds
    ok = failed = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal ok, failed
            while time.perf_counter() < deadline:
                resp = await client.post(url, json=BODY | extra, headers=headers)
                if resp.status_code == 200:
                    ok += 1
                else:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, failed


WRK_SCRIPT = """wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def throughput(url: str, key: str, seconds: float, concurrency: int, extra: dict[str, Any]) -> tuple[float, int]:
    """Requests/s and failures: with wrk (C, light on the CPU it shares with the servers) when it
    is installed (`apt-get install wrk`), else with an asyncio httpx client."""
    if shutil.which("wrk"):
        return _wrk(url, key, seconds, concurrency, extra)
    t0 = time.perf_counter()
    ok, failed = asyncio.run(_load(url, key, seconds, concurrency, extra))
    return ok / (time.perf_counter() - t0), failed


def _wrk(url: str, key: str, seconds: float, concurrency: int, extra: dict[str, Any]) -> tuple[float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (json.dumps(BODY | extra), key))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:.0f}s", "-s", script.name, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    Path(script.name).unlink()
    rate = float(next(line for line in out.splitlines() if line.startswith("Requests/sec")).split()[1])
    failed = sum(int(line.split()[-1]) for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line)
    return rate, failed


def drain_time(net: Network, timeout: float = 600) -> tuple[float, dict[str, int]]:
    """Seconds until the coordinator holds no task that is not settled on chain."""
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    while time.perf_counter() - t0 < timeout:
        counts = httpx.get(net.base_url.removesuffix("/v1") + "/health", timeout=30).json()["tasks"]
        if set(counts) <= {"settled"}:
            break
        time.sleep(0.5)
    return time.perf_counter() - t0, counts


def start_direct(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, str(HERE / "fake_openai_server.py"), str(port)])
    for _ in range(100):
        try:
            httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=BODY, timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the direct fake server did not start")


LITELLM = HERE.parent / ".bench" / "litellm" / "bin" / "litellm"
LITELLM_KEY = "sk-bench-0123456789abcdef0123456789"


def start_litellm(direct_port: int, port: int, tmp: Path) -> subprocess.Popen[bytes] | None:
    """LiteLLM's proxy in front of the direct fake server, if benchmarks/setup_litellm.sh installed it."""
    if not LITELLM.exists():
        return None
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: llmnet/general\n    litellm_params:\n      model: openai/fake-echo\n"
        f"      api_base: http://127.0.0.1:{direct_port}/v1\n      api_key: none\n"
    )
    env = {"LITELLM_MASTER_KEY": LITELLM_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        [str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(120):
        try:
            headers = {"Authorization": f"Bearer {LITELLM_KEY}"}
            if httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=BODY, headers=headers).is_success:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.terminate()
    raise RuntimeError("LiteLLM's proxy did not start")


def measure_network(
    base_port: int, *, k: int, rate: bool, latency_n: int, args: argparse.Namespace, load: bool = True,
    fsync_interval_s: float | None = None,
) -> tuple[list[float], float, int, float]:
    """A fresh network of fake respondents; (latencies ms, requests/s, failed, seconds to settle).

    ``fsync_interval_s``: the coordinator's ``record_fsync_interval_s`` (None: its default)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), chain_port=base_port + 45)
        durability = {} if fsync_interval_s is None else {"record_fsync_interval_s": fsync_interval_s}
        options = NetworkOptions(coordinator_port=base_port, respondent_base_port=base_port + 11,
                                 validator_base_port=base_port + 21, respondents=RESPONDENTS, judge="fake", k=k,
                                 rounds=0, rate=rate, **durability)  # fmt: skip
        net = Network(settings, options)
        net.start()
        try:
            url = f"{net.base_url}/chat/completions"
            extra = {"llmnet": {"k": k, "rounds": 0}}
            latencies = sequential_latency(url, net.api_key, latency_n, extra)
            rps, failed, drain = 0.0, 0, 0.0
            if load:
                rps, failed = throughput(url, net.api_key, args.seconds, args.concurrency, extra)
                drain, _ = drain_time(net)
        finally:
            net.stop()
    return latencies, rps, failed, drain


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests for latency")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    console = Console()
    figures: dict[str, Any] = {}
    direct = start_direct(18790)
    litellm: dict[str, Any] | None = None
    try:
        direct_url = "http://127.0.0.1:18790/v1/chat/completions"
        direct_ms = sequential_latency(direct_url, "none", args.requests, {})
        direct_rps, _ = throughput(direct_url, "none", args.seconds, args.concurrency, {})
        with tempfile.TemporaryDirectory() as tmp:
            proxy = start_litellm(18790, 18795, Path(tmp))
            if proxy is not None:
                try:
                    url = "http://127.0.0.1:18795/v1/chat/completions"
                    ms = sequential_latency(url, LITELLM_KEY, args.requests, {})
                    rps, failed = throughput(url, LITELLM_KEY, args.seconds, args.concurrency, {})
                    litellm = {"ms": ms, "rps": rps, "failed": failed}
                finally:
                    proxy.terminate()
                    proxy.wait()
    finally:
        direct.terminate()
        direct.wait()
    routed_ms, rps_k1, failed_k1, drain_k1 = measure_network(18700, k=1, rate=False, latency_n=args.requests, args=args)
    strict_ms, rps_strict, failed_strict, _ = measure_network(18900, k=1, rate=False, latency_n=args.requests,
                                                              args=args, fsync_interval_s=0.0)  # fmt: skip
    k3_ms, rps_k3, failed_k3, drain_k3 = measure_network(18800, k=3, rate=True, latency_n=max(50, args.requests // 3),
                                                         args=args)  # fmt: skip

    p50d, p95d = statistics.median(direct_ms), percentile(direct_ms, 0.95)
    p50r, p95r = statistics.median(routed_ms), percentile(routed_ms, 0.95)
    table = Table(title="latency of one request (ms), sequential, 127.0.0.1")
    for col in ("path", "p50", "p95"):
        table.add_column(col, justify="right" if col != "path" else "left")
    table.add_row("direct: OpenAI-compatible server over the fake backend", f"{p50d:.2f}", f"{p95d:.2f}")
    p50s, p95s = statistics.median(strict_ms), percentile(strict_ms, 0.95)
    table.add_row("llmnet coordinator, k = 1, no rating", f"{p50r:.2f}", f"{p95r:.2f}")
    table.add_row("added by llmnet (goal p50 <= 2 ms)", f"{p50r - p50d:.2f}", f"{p95r - p95d:.2f}")
    table.add_row("  same, each answer fsynced before it is returned", f"{p50s:.2f}", f"{p95s:.2f}")
    table.add_row("  added by llmnet with fsync per answer", f"{p50s - p50d:.2f}", f"{p95s - p95d:.2f}")
    if litellm is not None:
        p50l, p95l = statistics.median(litellm["ms"]), percentile(litellm["ms"], 0.95)
        table.add_row("LiteLLM proxy in front of the same fake backend", f"{p50l:.2f}", f"{p95l:.2f}")
        table.add_row("added by LiteLLM", f"{p50l - p50d:.2f}", f"{p95l - p95d:.2f}")
        figures |= {"litellm_p50_ms": p50l, "litellm_p95_ms": p95l, "litellm_rps": litellm["rps"]}
    table.add_row("llmnet coordinator, k = 3, two validators", f"{statistics.median(k3_ms):.2f}",
                  f"{percentile(k3_ms, 0.95):.2f}")  # fmt: skip
    console.print(table)
    generator = "wrk" if shutil.which("wrk") else "a Python client (install wrk for a lighter one)"
    t2 = Table(title=f"routed requests/s, {args.concurrency} connections from {generator}, {args.seconds:.0f} s each")
    for col in ("configuration", "requests/s", "failed", "chain caught up after"):
        t2.add_column(col, justify="right" if col != "configuration" else "left")
    t2.add_row("direct: the fake backend alone", f"{direct_rps:.1f}", "-", "-")
    if litellm is not None:
        t2.add_row("LiteLLM proxy, no accounting", f"{litellm['rps']:.1f}", str(litellm["failed"]), "-")
    t2.add_row("k = 1, no validators rating (goal >= 300/s)", f"{rps_k1:.1f}", str(failed_k1), f"{drain_k1:.1f} s")
    t2.add_row("  same, each answer fsynced before it is returned", f"{rps_strict:.1f}", str(failed_strict), "-")
    t2.add_row("k = 3, two validators", f"{rps_k3:.1f}", str(failed_k3), f"{drain_k3:.1f} s")
    console.print(t2)
    if litellm is None:
        console.print("LiteLLM proxy: not measured; run `bash benchmarks/setup_litellm.sh` to include it")
    figures |= {
        "direct_p50_ms": p50d, "direct_p95_ms": p95d, "routed_p50_ms": p50r, "routed_p95_ms": p95r,
        "added_p50_ms": p50r - p50d, "added_p95_ms": p95r - p95d, "added_p50_ms_fsync_each": p50s - p50d,
        "rps_k1_fsync_each": rps_strict, "k3_p50_ms": statistics.median(k3_ms),
        "direct_rps": direct_rps, "rps_k1": rps_k1, "rps_k3": rps_k3, "drain_k1_s": drain_k1, "drain_k3_s": drain_k3,
    }  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
