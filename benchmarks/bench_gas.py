"""Gas per settled task by batch size, against one settlement transaction per task,
and the ledger client's transactions per second against the embedded node.

    .venv/bin/python benchmarks/bench_gas.py [--json OUT.json]

Tasks look like the live network's: 3 respondents out of 10 providers, 2
validators, one coordinator; the fee is split by llmnet.reputation.settlement.
"Steady" batches follow earlier batches, so payees and reputation entries
already exist (the normal case); "cold" is the very first batch.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from web3 import Web3

from llmnet.chain.deploy import DeployParams, deploy_contracts
from llmnet.chain.network import dev_account
from llmnet.chain.node import LocalNode
from llmnet.chain.outbox import Outbox
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, plan_settlement
from llmnet.types import ETHER, ProviderProfile

FEE = 10**15
N_PROVIDERS = 10
GOAL = 5_000


class Bench:
    """Opens and settles tasks the way the coordinator and the settler do (bench_chain_growth uses it too)."""

    def __init__(self, ledger: Web3Ledger, deposit_ether: int = 1000) -> None:
        self.ledger, self.deposit_ether = ledger, deposit_ether
        self.gov = dev_account(0)
        self.providers = [dev_account(i) for i in range(1, N_PROVIDERS + 1)]
        self.validators = [dev_account(11).address, dev_account(12).address]
        self.coordinator = dev_account(13).address
        self.requester = dev_account(14)
        self.rng = random.Random(7)

    def setup(self) -> None:
        for p in self.providers:
            profile = ProviderProfile(endpoint="http://127.0.0.1:1", domains=("general",), model_id="bench")
            self.ledger.register_provider(profile, ETHER, p)
        self.ledger.set_settler(self.gov.address, True, self.gov)
        self.ledger.deposit(self.deposit_ether * ETHER, self.requester)

    def open(self, n: int, group: int = 256) -> list[int]:
        """``n`` tasks, ``group`` to a transaction."""
        ids: list[int] = []
        deadline = self.ledger.now() + 3600
        while len(ids) < n:
            k = min(group, n - len(ids))
            hashes = ["0x" + self.rng.randbytes(32).hex() for _ in range(k)]
            r = self.ledger.open_tasks(
                self.requester.address, "general", hashes, [FEE] * k, 3, deadline, self.requester
            )
            assert r.value is not None
            ids.extend(range(r.value, r.value + k))
        return ids

    def outcome(self, task_id: int) -> TaskOutcome:
        chosen = self.rng.sample(self.providers, 3)
        return TaskOutcome(
            task_id=task_id,
            domain="general",
            fee=FEE,
            requester=self.requester.address,
            coordinator=self.coordinator,
            scores={p.address: self.rng.random() for p in chosen},
            validators=tuple(self.validators),
            receipt_hash="0x" + self.rng.randbytes(32).hex(),
        )

    def settle(self, task_ids: list[int]) -> int:
        batch = plan_settlement([self.outcome(t) for t in task_ids], FeeSplit(), self.ledger.decay)
        return self.ledger.settle_batch(batch, self.gov).gas_used


def tx_rate(ledger: Web3Ledger, outbox_path: Path, n: int) -> tuple[float, float]:
    """(sequential send-and-confirm tx/s, pipelined outbox tx/s)."""
    account = dev_account(15)
    t0 = time.perf_counter()
    for _ in range(n):
        ledger.deposit(10**9, account)
    sequential = n / (time.perf_counter() - t0)
    outbox = Outbox(outbox_path, ledger, [account], window=64)
    calls = [ledger.open_task_call("general", "0x" + f"{i + 1:064x}", 1, ledger.now() + 3600, 10**9) for i in range(n)]
    t0 = time.perf_counter()
    for call in calls:
        outbox.submit(call, account)
    outbox.drain()
    pipelined = n / (time.perf_counter() - t0)
    outbox.close()
    return sequential, pipelined


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        node = LocalNode(Path(tmp) / "chain", port=18645)
        node.start()
        try:
            w3 = Web3(Web3.HTTPProvider(node.url))
            ledger = Web3Ledger(w3, deploy_contracts(w3, dev_account(0), DeployParams(domains=("general",))))
            bench = Bench(ledger)
            bench.setup()
            cold = bench.settle(bench.open(100)) / 100
            singles = [bench.settle(bench.open(1)) for _ in range(20)]
            per_tx = sum(singles) / len(singles)
            rows = []
            for size in (1, 10, 100, 1000):
                gas = bench.settle(bench.open(size))
                rows.append({"batch": size, "gas": gas, "gas_per_task": gas / size})
            sequential, pipelined = tx_rate(ledger, Path(tmp) / "outbox.sqlite", 200)
        finally:
            node.stop()

    table = Table(title="settlement gas per task (anvil, 3 respondents + 2 validators per task)")
    for col in ("batch size", "gas for the batch", "gas per task", "one tx per task", "saving", "goal"):
        table.add_column(col, justify="right")
    for r in rows:
        verdict = "" if r["batch"] < 100 else ("met" if r["gas_per_task"] <= GOAL else "MISSED")
        table.add_row(
            str(r["batch"]), f"{r['gas']:,}", f"{r['gas_per_task']:,.0f}", f"{per_tx:,.0f}",
            f"{per_tx / r['gas_per_task']:.1f}x", f"<= {GOAL:,} {verdict}" if verdict else "",
        )  # fmt: skip
    console.print(table)
    console.print(f"first (cold) batch of 100, every payee and reputation entry new: {cold:,.0f} gas per task")
    t2 = Table(title="ledger client against the embedded node (anvil)")
    t2.add_column("mode")
    t2.add_column("tx/s", justify="right")
    t2.add_row("send and confirm one at a time (simulate, sign, send, wait)", f"{sequential:.1f}")
    t2.add_row("outbox, durable, pipelined (64 in flight)", f"{pipelined:.1f}")
    console.print(t2)
    figures = {
        "gas": rows,
        "gas_per_task_one_tx_each": per_tx,
        "gas_per_task_cold_batch_100": cold,
        "tx_per_s_sequential": sequential,
        "tx_per_s_outbox": pipelined,
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    met = all(r["gas_per_task"] <= GOAL for r in rows if r["batch"] >= 100)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
