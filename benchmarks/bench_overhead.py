"""What routing through llmnet costs, against calling one instant fake backend directly.

    .venv/bin/python benchmarks/bench_overhead.py [--requests 1000] [--seconds 10] [--json OUT.json]

Prints, in one run:
- latency p50/p95 of sequential requests: direct to an OpenAI-compatible server over an instant
  fake backend, and through the coordinator (k = 1, no rating) to a respondent over the same
  fake backend; the difference is the coordinator's added latency (goal: <= 2 ms at p50).
  Requests take turns between the direct server and the path measured, so both see the same
  machine conditions;
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


Target = tuple[str, str, dict[str, Any]]  # url, API key, extra body fields


def interleaved_latency(targets: list[Target], n: int) -> list[list[float]]:
    """Sequential requests (ms) taking turns between ``targets``, so each one is measured under
    the same machine conditions (on a shared machine these drift by tens of percent a minute)."""
    times: list[list[float]] = [[] for _ in targets]
    with httpx.Client(timeout=30) as client:
        for round_ in range(n + 200):  # 200 rounds warm up connections, caches, the chain reads behind them
            for i, (url, key, extra) in enumerate(targets):
                t0 = time.perf_counter()
                client.post(url, json=BODY | extra, headers={"Authorization": f"Bearer {key}"}).raise_for_status()
                if round_ >= 200:
                    times[i].append((time.perf_counter() - t0) * 1000)
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


def drain_time(net: Network, timeout: float = 180) -> tuple[float, dict[str, int]]:
    """Seconds until the coordinator holds no task that is not settled on chain; a chain that has
    not caught up within ``timeout`` is an error that says what the settler last reported."""
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    while time.perf_counter() - t0 < timeout:
        counts = httpx.get(net.base_url.removesuffix("/v1") + "/health", timeout=30).json()["tasks"]
        if set(counts) <= {"settled"}:
            return time.perf_counter() - t0, counts
        time.sleep(0.5)
    settler = f"http://127.0.0.1:{net.options.validator_base_port}/health"
    error = httpx.get(settler, timeout=30).json().get("last_error")
    raise RuntimeError(f"the chain did not catch up within {timeout:.0f} s: tasks {counts}; the settler says: {error}")


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
    base_port: int,
    direct: Target,
    *,
    k: int,
    rate: bool,
    latency_n: int,
    args: argparse.Namespace,
    fsync_interval_s: float | None = None,
) -> dict[str, Any]:
    """A fresh network of fake respondents: sequential latency (ms) taking turns with the direct
    server, then requests/s under load and the seconds the chain took to catch up.

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
            direct_ms, routed_ms = interleaved_latency([direct, (url, net.api_key, extra)], latency_n)
            rps, failed = throughput(url, net.api_key, args.seconds, args.concurrency, extra)
            drain, _ = drain_time(net)
        finally:
            net.stop()
    return {"direct_ms": direct_ms, "ms": routed_ms, "rps": rps, "failed": failed, "drain": drain}


def _p(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), percentile(values, 0.95)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests for latency")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    console = Console(width=max(110, Console().width))
    figures: dict[str, Any] = {}
    direct_proc = start_direct(18790)
    direct: Target = ("http://127.0.0.1:18790/v1/chat/completions", "none", {})
    litellm: dict[str, Any] | None = None
    try:
        direct_rps, _ = throughput(direct[0], "none", args.seconds, args.concurrency, {})
        with tempfile.TemporaryDirectory() as tmp:
            proxy = start_litellm(18790, 18795, Path(tmp))
            if proxy is not None:
                try:
                    url = "http://127.0.0.1:18795/v1/chat/completions"
                    d_ms, ms = interleaved_latency([direct, (url, LITELLM_KEY, {})], args.requests)
                    rps, failed = throughput(url, LITELLM_KEY, args.seconds, args.concurrency, {})
                    litellm = {"direct_ms": d_ms, "ms": ms, "rps": rps, "failed": failed}
                finally:
                    proxy.terminate()
                    proxy.wait()
        k1 = measure_network(18700, direct, k=1, rate=False, latency_n=args.requests, args=args)
        strict = measure_network(18900, direct, k=1, rate=False, latency_n=args.requests, args=args,
                                 fsync_interval_s=0.0)  # fmt: skip
        k3 = measure_network(18800, direct, k=3, rate=True, latency_n=max(100, args.requests // 3), args=args)
    finally:
        direct_proc.terminate()
        direct_proc.wait()

    table = Table(title="latency of one request (ms), sequential, each taking turns with the direct server")
    for col in ("path", "p50", "p95", "direct p50 meanwhile", "added at p50"):
        table.add_column(col, justify="right" if col != "path" else "left")
    rows = [("llmnet, k = 1, no rating (goal: added p50 <= 2 ms)", k1),
            ("  same, each answer fsynced before it is returned", strict)]  # fmt: skip
    if litellm is not None:
        rows.append(("LiteLLM proxy in front of the same fake backend", litellm))
    rows.append(("llmnet, k = 3, two validators rating", k3))
    added: dict[str, float] = {}
    for label, m in rows:
        (p50, p95), (d50, _) = _p(m["ms"]), _p(m["direct_ms"])
        table.add_row(label, f"{p50:.2f}", f"{p95:.2f}", f"{d50:.2f}", f"{p50 - d50:.2f}")
        added[label] = p50 - d50
    console.print(table)
    generator = "wrk" if shutil.which("wrk") else "a Python client (install wrk for a lighter one)"
    t2 = Table(title=f"routed requests/s, {args.concurrency} connections from {generator}, {args.seconds:.0f} s each")
    for col in ("configuration", "requests/s", "failed", "chain caught up after"):
        t2.add_column(col, justify="right" if col != "configuration" else "left")
    t2.add_row("direct: the fake backend alone", f"{direct_rps:.1f}", "-", "-")
    if litellm is not None:
        t2.add_row("LiteLLM proxy, no accounting", f"{litellm['rps']:.1f}", str(litellm["failed"]), "-")
    t2.add_row("k = 1, no validators rating (goal >= 300/s)", f"{k1['rps']:.1f}", str(k1["failed"]),
               f"{k1['drain']:.1f} s")  # fmt: skip
    t2.add_row("  same, each answer fsynced before it is returned", f"{strict['rps']:.1f}", str(strict["failed"]),
               f"{strict['drain']:.1f} s")  # fmt: skip
    t2.add_row("k = 3, two validators", f"{k3['rps']:.1f}", str(k3["failed"]), f"{k3['drain']:.1f} s")
    console.print(t2)
    if litellm is None:
        console.print("LiteLLM proxy: not measured; run `bash benchmarks/setup_litellm.sh` to include it")
    figures |= {
        "direct_p50_ms": _p(k1["direct_ms"])[0], "routed_p50_ms": _p(k1["ms"])[0], "routed_p95_ms": _p(k1["ms"])[1],
        "added_p50_ms": added[rows[0][0]], "added_p50_ms_fsync_each": added[rows[1][0]],
        "k3_p50_ms": _p(k3["ms"])[0], "direct_rps": direct_rps, "rps_k1": k1["rps"],
        "rps_k1_fsync_each": strict["rps"], "rps_k3": k3["rps"], "drain_k1_s": k1["drain"], "drain_k3_s": k3["drain"],
    }  # fmt: skip
    if litellm is not None:
        figures |= {"litellm_added_p50_ms": added["LiteLLM proxy in front of the same fake backend"],
                    "litellm_p50_ms": _p(litellm["ms"])[0], "litellm_rps": litellm["rps"]}  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
