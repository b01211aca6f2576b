"""How the embedded node grows with settled tasks: anvil's own defaults against llmnet's retention.

    .venv/bin/python benchmarks/bench_chain_growth.py [--tasks 20000] [--open-group 4] [--json OUT.json]

Tasks go straight through the ledger as the live network sends them, without LLMs: the
coordinator opens them in small groups (``--open-group``), the settler settles them in batches
of 200 (3 respondents out of 10 providers and 2 validators per task). Printed per 10,000 settled
tasks, measured over the second half of the run: anvil's resident memory, its state dump and
the historical states it writes to disk. ``chain_growth`` and ``print_section`` are used by
bench_faults.py as well:

    >>> print_section(compare(10_000))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_gas import Bench
from rich.console import Console
from rich.table import Table
from web3 import Web3

from llmnet.chain.deploy import DeployParams, deploy_contracts
from llmnet.chain.network import dev_account
from llmnet.chain.node import LocalNode
from llmnet.chain.retention import KEEP_EVERYTHING, ChainRetention
from llmnet.chain.web3_ledger import Web3Ledger

SETTLE_BATCH = 200  # the settler's max_batch
PER = 10_000


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def _sample(node: LocalNode, home: Path, w3: Web3, tasks: int) -> dict[str, int]:
    time.sleep(1.3)  # the node dumps its state every second
    assert node.process is not None
    size = node.state_file.stat().st_size if node.state_file.exists() else 0
    return {"tasks": tasks, "blocks": int(w3.eth.block_number), "rss": _rss(node.process.pid),
            "state_file": size, "disk_states": _du(home / ".foundry")}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chain_growth(
    tasks: int, retention: ChainRetention | None = None, *, open_group: int = 4, port: int | None = None
) -> dict[str, Any]:
    """Settle ``tasks`` tasks on a fresh embedded node kept by ``retention`` (default: llmnet's);
    returns samples at a quarter, half, three quarters and the end, and growth per 10,000 tasks
    over the second half."""
    retention, port = retention or ChainRetention(), port or _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        home, old_home = Path(tmp) / "home", os.environ.get("HOME")
        os.environ["HOME"] = str(home)  # anvil writes historical states under ~/.foundry: count ours only
        node = LocalNode(Path(tmp) / "chain", port=port, retention=retention)
        try:
            node.start()
            samples = _drive(node, home, tasks, open_group)
        finally:
            node.stop()
            if old_home is not None:
                os.environ["HOME"] = old_home
    return {"retention": retention.model_dump(), "open_group": open_group, "samples": samples,
            "per_10k": _per_10k(samples)}  # fmt: skip


def _drive(node: LocalNode, home: Path, tasks: int, open_group: int) -> list[dict[str, int]]:
    w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
    ledger = Web3Ledger(w3, deploy_contracts(w3, dev_account(0), DeployParams(domains=("general",))))
    bench = Bench(ledger, deposit_ether=5000)
    bench.setup()
    checkpoints = {tasks * q // 4 // SETTLE_BATCH * SETTLE_BATCH for q in (1, 2, 3, 4)}
    samples, done, t0 = [_sample(node, home, w3, 0)], 0, time.perf_counter()
    while done < tasks:
        bench.settle(bench.open(SETTLE_BATCH, group=open_group))
        done += SETTLE_BATCH
        if done in checkpoints:
            samples.append(_sample(node, home, w3, done) | {"seconds": int(time.perf_counter() - t0)})
    return samples


def _per_10k(samples: list[dict[str, int]]) -> dict[str, float]:
    half, end = samples[len(samples) // 2], samples[-1]
    span = max(1, end["tasks"] - half["tasks"])
    return {key: (end[key] - half[key]) * PER / span for key in ("rss", "state_file", "disk_states", "blocks")}


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def print_section(results: dict[str, dict[str, Any]], console: Console | None = None) -> None:
    """One table: each run's size at the end and its growth per 10,000 settled tasks."""
    console = console or Console(width=150)
    table = Table(title="embedded chain growth (anvil), per 10,000 settled tasks over the second half of each run")
    for col in ("settings", "tasks", "blocks", "RSS", "state dump", "states on disk",
                "RSS / 10k", "dump / 10k", "disk / 10k"):  # fmt: skip
        table.add_column(col, justify="right" if col != "settings" else "left")
    for name, r in results.items():
        end, g = r["samples"][-1], r["per_10k"]
        table.add_row(
            name, f"{end['tasks']:,}", f"{end['blocks']:,}", _mb(end["rss"]), _mb(end["state_file"]),
            _mb(end["disk_states"]), _mb(g["rss"]), _mb(g["state_file"]), _mb(g["disk_states"]),
        )  # fmt: skip
    console.print(table)


RUNS = {"before": ("anvil defaults (before)", KEEP_EVERYTHING), "now": ("llmnet retention (now)", ChainRetention())}


def compare(tasks: int, open_group: int = 4, runs: tuple[str, ...] = ("before", "now")) -> dict[str, dict[str, Any]]:
    """``chain_growth`` with anvil's own defaults and with llmnet's retention, for ``print_section``."""
    return {RUNS[r][0]: chain_growth(tasks, RUNS[r][1], open_group=open_group) for r in runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20_000, help="settled tasks per run")
    parser.add_argument("--open-group", type=int, default=4, help="tasks opened per transaction")
    parser.add_argument("--only", choices=tuple(RUNS), help="run one of the two settings")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results = compare(args.tasks, args.open_group, (args.only,) if args.only else tuple(RUNS))
    print_section(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
