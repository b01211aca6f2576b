"""What one hung validator costs the network, against the same network with every validator responsive.

    .venv/bin/python benchmarks/bench_faults.py [--seconds 20] [--concurrency 32] [--validators 3] [--json OUT.json]

Prints, in one run with fake backends and fake judges (all traffic on 127.0.0.1):
- p50/p99 latency and requests/s under k = 3 load (``--concurrency`` clients for ``--seconds``),
  first with every validator responsive, then with one validator (not the settler) SIGSTOPped for
  the whole phase and SIGCONTed at its end; side by side with the goals: p99 with one hung
  validator <= 2x the healthy p99, and requests/s >= 80 % of healthy;
- how many answers named the hung validator as not rating (asked, then given up on after the
  grace) or cooling down (not asked);
- the embedded chain's growth (a separate section, see ``chain_section``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bench_overhead import BODY, RESPONDENTS, percentile
from rich.console import Console
from rich.table import Table

from llmnet.chain.network import dev_account
from llmnet.config import load_settings
from llmnet.launcher import Network, NetworkOptions, validator_dev

EXTRA = {"llmnet": {"k": 3, "rounds": 0}}


@dataclass
class Phase:
    label: str
    seconds: float = 0.0
    ms: list[float] = field(default_factory=list)
    failed: int = 0
    unrated: int = 0  # answers whose receipt lists the hung validator as asked but not rating
    cooling: int = 0  # answers whose receipt lists it as cooling down (not asked)

    @property
    def rps(self) -> float:
        return len(self.ms) / self.seconds

    def p(self, q: float) -> float:
        return percentile(self.ms, q) if self.ms else float("nan")


async def load(phase: Phase, url: str, key: str, seconds: float, concurrency: int, hung: str) -> None:
    """``concurrency`` clients in a loop for ``seconds``; every answer's latency (ms) and receipt."""
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    t0 = time.perf_counter()
    deadline = t0 + seconds
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                resp = await client.post(url, json=BODY | EXTRA, headers=headers)
                if resp.status_code != 200:
                    phase.failed += 1
                    continue
                phase.ms.append((time.perf_counter() - started) * 1000)
                receipt = resp.json()["llmnet"]["receipt"]
                phase.unrated += hung in receipt.get("unrated_validators", [])
                phase.cooling += hung in receipt.get("cooling_validators", [])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.seconds = time.perf_counter() - t0


def measure(args: argparse.Namespace) -> tuple[Phase, Phase]:
    """A fresh network; a short warm-up, the healthy phase, then the phase with one validator stopped."""
    hung_name, hung = f"validator-{args.validators}", dev_account(validator_dev(args.validators - 1)).address
    healthy, stalled = Phase("every validator responsive"), Phase(f"{hung_name} SIGSTOPped")
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base_port
        settings = load_settings(data_dir=Path(tmp), chain_port=base + 45)
        options = NetworkOptions(coordinator_port=base, respondent_base_port=base + 11, validator_base_port=base + 21,
                                 respondents=RESPONDENTS, validators=args.validators, judge="fake", k=3, rounds=0,
                                 gold_rate=0.0)  # fmt: skip
        net = Network(settings, options)
        net.start()
        try:
            url = f"{net.base_url}/chat/completions"
            asyncio.run(load(Phase("warm-up"), url, net.api_key, 3, args.concurrency, hung))
            asyncio.run(load(healthy, url, net.api_key, args.seconds, args.concurrency, hung))
            pid = net.processes[hung_name].pid
            os.kill(pid, signal.SIGSTOP)
            try:
                asyncio.run(load(stalled, url, net.api_key, args.seconds, args.concurrency, hung))
            finally:
                os.kill(pid, signal.SIGCONT)
        finally:
            net.stop()
    return healthy, stalled


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def print_latency(console: Console, args: argparse.Namespace, healthy: Phase, stalled: Phase) -> dict[str, Any]:
    table = Table(title=f"k = 3, {args.validators} validators, {args.concurrency} clients, {args.seconds:.0f} s each")
    for col in ("phase", "answers", "failed", "p50 ms", "p99 ms", "requests/s", "hung: unrated / cooling"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for p in (healthy, stalled):
        table.add_row(p.label, str(len(p.ms)), str(p.failed), f"{statistics.median(p.ms):.1f}", f"{p.p(0.99):.1f}",
                      f"{p.rps:.1f}", f"{p.unrated} / {p.cooling}" if p is stalled else "-")  # fmt: skip
    console.print(table)
    p99_ratio, rps_ratio = stalled.p(0.99) / healthy.p(0.99), stalled.rps / healthy.rps
    goals = Table(title="goals with one hung validator")
    for col in ("figure", "value", "goal", "verdict"):
        goals.add_column(col)
    goals.add_row("p99 hung / p99 healthy", f"{p99_ratio:.2f}x", "<= 2x", _met(p99_ratio <= 2))
    goals.add_row("requests/s hung / healthy", f"{rps_ratio:.0%}", ">= 80 %", _met(rps_ratio >= 0.8))
    console.print(goals)
    return {
        "healthy_p50_ms": statistics.median(healthy.ms), "healthy_p99_ms": healthy.p(0.99), "healthy_rps": healthy.rps,
        "hung_p50_ms": statistics.median(stalled.ms), "hung_p99_ms": stalled.p(0.99), "hung_rps": stalled.rps,
        "p99_ratio": p99_ratio, "rps_ratio": rps_ratio, "failed": healthy.failed + stalled.failed,
        "hung_unrated_answers": stalled.unrated, "hung_cooling_answers": stalled.cooling,
    }  # fmt: skip


def chain_section(console: Console, tasks: int = 10_000) -> dict[str, Any]:
    """The embedded chain's resident memory and state per 10,000 settled tasks, anvil's defaults
    beside llmnet's retention (see bench_chain_growth)."""
    from bench_chain_growth import compare, print_section

    results = compare(tasks)
    print_section(results, console)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each load phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--validators", type=int, default=3, help="the last one is stopped (the first settles)")
    parser.add_argument("--base-port", type=int, default=19300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.validators < 2:
        parser.error("--validators must be at least 2: the first one settles, the last one is stopped")
    console = Console(width=max(110, Console().width))
    healthy, stalled = measure(args)
    figures = print_latency(console, args, healthy, stalled)
    console.rule("embedded chain")
    figures |= chain_section(console)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
