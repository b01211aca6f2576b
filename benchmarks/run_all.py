"""Every benchmark in one run, one table of figures against their goals, saved as JSON.

    .venv/bin/python benchmarks/run_all.py [--skip adversaries,judge_bias] [--only overhead,gas]
                                           [--compare benchmarks/results/EARLIER.json] [--out FILE.json]

Each benchmark runs as its own process (as it would from the command line) and writes its
figures as JSON; this script prints the headline figures side by side with their baselines and
goals, and saves all figures (with the commit and the machine) under benchmarks/results/, so
two runs can be compared with ``--compare``. A benchmark that fails is reported as failed and
the others still run.

Benchmarks, and roughly how long each takes on two cores:
  overhead     coordinator latency and requests/s against the direct backend, LiteLLM    ~2 min
  gas          gas per settled task by batch size, ledger transactions/s                 ~1 min
  streaming    tokens/s streamed through the network against the raw llama.cpp backend  ~1 min
  sim          the simulation at 10,000 providers x 1,000,000 requests                   ~1 min
  judge_bias   position bias of a real LLM judge, with and without the control           ~3 min
  adversaries  every attack of the adversary suite against a real network                ~12 min
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
Row = tuple[str, str, str, str]  # figure, value, baseline or goal, verdict


@dataclass(frozen=True)
class Benchmark:
    name: str
    command: Callable[[Path], list[str]]  # given the JSON path to write
    rows: Callable[[dict[str, Any]], list[Row]]
    timeout_s: float = 1800


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def overhead_rows(f: dict[str, Any]) -> list[Row]:
    rows = [
        ("added latency p50, k = 1 (ms)", f"{f['added_p50_ms']:.2f}", f"direct p50 {f['direct_p50_ms']:.2f}; goal <= 2",
         _met(f["added_p50_ms"] <= 2.0)),
        ("  same, fsync before each answer (ms)", f"{f['added_p50_ms_fsync_each']:.2f}", "", ""),
        ("requests/s, k = 1, full accounting", f"{f['rps_k1']:.0f}", f"direct {f['direct_rps']:.0f}; goal >= 300",
         _met(f["rps_k1"] >= 300)),
        ("requests/s, k = 3, two validators", f"{f['rps_k3']:.0f}", "", ""),
    ]  # fmt: skip
    if "litellm_added_p50_ms" in f:
        rows += [("LiteLLM proxy: added latency p50 (ms)", f"{f['litellm_added_p50_ms']:.2f}", "baseline", ""),
                 ("LiteLLM proxy: requests/s, no accounting", f"{f['litellm_rps']:.0f}", "baseline", "")]  # fmt: skip
    return rows


def gas_rows(f: dict[str, Any]) -> list[Row]:
    one = f["gas_per_task_one_tx_each"]
    rows = [(f"gas per task, batch of {r['batch']}", f"{r['gas_per_task']:,.0f}", f"one tx per task {one:,.0f}",
             f"{one / r['gas_per_task']:.1f}x less") for r in f["gas"]]  # fmt: skip
    rows.append(("ledger tx/s through the outbox", f"{f['tx_per_s_outbox']:.0f}",
                 f"one at a time {f['tx_per_s_sequential']:.0f}", ""))  # fmt: skip
    return rows


def streaming_rows(f: dict[str, Any]) -> list[Row]:
    return [
        ("streamed tokens/s through the network", f"{f['network_tokens_per_s']:.1f}",
         f"raw backend {f['raw_tokens_per_s']:.1f}", ""),
        ("  network / raw", f"{f['stream_ratio']:.3f}", "goal >= 0.95", _met(f["stream_ratio"] >= 0.95)),
        ("first token through the network (ms)", f"{f['network_first_token_ms']:.0f}",
         f"raw backend {f['raw_first_token_ms']:.0f}", ""),
    ]  # fmt: skip


def sim_rows(f: dict[str, Any]) -> list[Row]:
    run = f["run"]
    seconds = run["wall_s"]
    share = f["summaries"][0]["expert_share_after_warmup"]
    return [
        ("simulation 10,000 x 1,000,000: seconds", f"{seconds:.1f}", "goal <= 60", _met(seconds <= 60)),
        ("  simulated requests/s", f"{run['requests'] / seconds:,.0f}", "", ""),
        ("  peak memory (MB)", f"{run['peak_rss_mb']:.0f}", "", ""),
        ("  traffic to experts after warm-up", f"{share:.1%}", "", ""),
    ]


def judge_bias_rows(f: dict[str, Any]) -> list[Row]:
    return [
        (f"{f['model']} judge: verdicts flipped by order", f"{f['position_bias_without_control']:.0%}",
         "one order, no control", ""),
        ("  with both orders required to agree", f"{f['position_bias_with_control']:.0%}", "", ""),
    ]  # fmt: skip


def adversaries_rows(f: dict[str, Any]) -> list[Row]:
    sys.path.insert(0, str(HERE))
    import adversaries  # the suite's own verdicts, from its own figures

    by_key = {s.key: s for s in adversaries.scenarios()}
    rows = []
    for key, figures in f.items():
        attack, shares, _, _, outcome, goal = adversaries.row(by_key[key], figures)
        rows.append((attack, shares if shares != "-" else outcome[:40], outcome[:60] if shares != "-" else "", goal))
    return rows


BENCHMARKS = (
    Benchmark("overhead", lambda out: [PYTHON, str(HERE / "bench_overhead.py"), "--seconds", "8", "--json", str(out)],
              overhead_rows),
    Benchmark("gas", lambda out: [PYTHON, str(HERE / "bench_gas.py"), "--json", str(out)], gas_rows),
    Benchmark("streaming", lambda out: [PYTHON, str(HERE / "bench_streaming.py"), "--json", str(out)],
              streaming_rows),
    Benchmark("sim", lambda out: [str(Path(PYTHON).with_name("llmnet")), "sim", "--providers", "10000",
                                  "--requests", "1000000", "--policies", "thompson", "--no-plots",
                                  "--out", str(out.parent / "sim")], sim_rows),
    Benchmark("judge_bias", lambda out: [PYTHON, str(HERE / "judge_bias.py"), "--json", str(out)], judge_bias_rows),
    Benchmark("adversaries", lambda out: [PYTHON, str(HERE / "adversaries.py"), "--json", str(out)],
              adversaries_rows, timeout_s=3600),
)  # fmt: skip


def run(bench: Benchmark, console: Console) -> dict[str, Any]:
    """Run one benchmark; its figures, or the reason it has none."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{bench.name}.json"
        console.print(f"[bold]{bench.name}[/] ...")
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(bench.command(out), cwd=ROOT, capture_output=True, text=True,
                                  timeout=bench.timeout_s)  # fmt: skip
        except subprocess.TimeoutExpired:
            return {"error": f"did not finish within {bench.timeout_s:.0f} s"}
        seconds = time.perf_counter() - t0
        console.print(f"    {seconds:.0f} s")
        if bench.name == "sim" and (out.parent / "sim" / "summary.json").exists():
            out = out.parent / "sim" / "summary.json"  # `llmnet sim` writes its figures there
        if not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return {"error": f"exit {proc.returncode}: " + " | ".join(tail), "seconds": seconds}
        return {"figures": json.loads(out.read_text()), "seconds": seconds, "exit": proc.returncode}


def table(results: dict[str, Any], earlier: dict[str, Any] | None) -> Table:
    t = Table(title="llmnet benchmarks")
    columns = ["benchmark", "figure", "value", "baseline / goal", "verdict"]
    if earlier is not None:
        columns.insert(3, "earlier run")
    for col in columns:
        t.add_column(col, justify="right" if col in ("value", "earlier run") else "left")
    by_name = {b.name: b for b in BENCHMARKS}
    for name, result in results.items():
        if "figures" not in result:
            t.add_row(name, "failed", "-", *([""] if earlier is not None else []), result["error"][:80], "")
            continue
        before: dict[str, str] = {}
        if earlier is not None and "figures" in earlier.get(name, {}):
            before = {r[0]: r[1] for r in by_name[name].rows(earlier[name]["figures"])}
        for i, (figure, value, baseline, verdict) in enumerate(by_name[name].rows(result["figures"])):
            cells = [name if i == 0 else "", figure, value, baseline, verdict]
            if earlier is not None:
                cells.insert(3, before.get(figure, "-"))
            t.add_row(*cells)
    return t


def machine() -> dict[str, Any]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {"commit": commit.stdout.strip(), "cores": os.cpu_count(), "python": platform.python_version(),
            "machine": platform.machine(), "when": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [b.name for b in BENCHMARKS]
    parser.add_argument("--only", default="", help=f"comma-separated, of: {', '.join(names)}")
    parser.add_argument("--skip", default="", help="comma-separated benchmarks not to run")
    parser.add_argument("--compare", type=Path, help="an earlier run's JSON, shown beside this one")
    parser.add_argument("--out", type=Path, help="where to save (default: benchmarks/results/<time>.json)")
    args = parser.parse_args()
    only, skip = set(args.only.split(",")) - {""}, set(args.skip.split(",")) - {""}
    unknown = (only | skip) - set(names)
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(names)}")
    earlier = None
    if args.compare is not None:
        if not args.compare.is_file():
            parser.error(f"--compare: no such file {args.compare}")
        earlier = json.loads(args.compare.read_text()).get("results", {})
    console = Console(width=max(130, Console().width))
    results = {b.name: run(b, console) for b in BENCHMARKS if (not only or b.name in only) and b.name not in skip}
    console.print(table(results, earlier))
    record = {"machine": machine(), "results": results}
    out = args.out or HERE / "results" / f"{record['machine']['when'].replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    console.print(f"figures saved to {out}")
    return 0 if all("figures" in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
