"""Acknowledged writes survive SIGKILL of the writer (and of the node) exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pytest
from web3 import Web3

from llmnet.chain.deploy import DeployParams, deploy_contracts
from llmnet.chain.network import dev_account
from llmnet.chain.node import LocalNode
from llmnet.chain.web3_ledger import Web3Ledger
from tests.conftest import free_port

pytestmark = pytest.mark.integration
WRITER = Path(__file__).with_name("outbox_writer.py")
TOTAL = 400


def start_writer(url: str, deployment: Path, db: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), url, str(deployment), str(db), *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def read_acks_until(proc: subprocess.Popen[str], stop_after: int) -> set[int]:
    acked: set[int] = set()
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("ACK "):
            acked.add(int(line.split()[1]))
            if len(acked) >= stop_after:
                break
    return acked


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def opened_contents(ledger: Web3Ledger) -> Counter[str]:
    logs = ledger.escrow.events.TaskOpened().get_logs(from_block=0)
    return Counter("0x" + bytes(e["args"]["content_hash"]).hex() for e in logs)


def deploy_to(url: str, path: Path) -> Web3Ledger:
    w3 = Web3(Web3.HTTPProvider(url))
    deployment = deploy_contracts(w3, dev_account(0), DeployParams(domains=("general",)))
    path.write_text(json.dumps(asdict(deployment)))
    ledger = Web3Ledger(w3, deployment)
    ledger.deposit(10**18, dev_account(3))
    return ledger


def recover_and_check(url: str, deployment: Path, db: Path, acked: set[int], ledger: Web3Ledger) -> None:
    drain = start_writer(url, deployment, db, "drain")
    out, _ = drain.communicate(timeout=240)
    assert drain.returncode == 0 and "DRAINED" in out
    print(out.splitlines()[0])
    seen = opened_contents(ledger)
    for i in acked:
        assert seen["0x" + f"{i + 1:064x}"] == 1, (
            f"acknowledged record {i} is on chain {seen['0x' + f'{i + 1:064x}']} times"
        )
    assert all(count == 1 for count in seen.values()), "a record was written twice"
    assert ledger.task_count() == sum(seen.values())


def test_sigkill_of_the_writer_loses_and_doubles_nothing(tmp_path: Path) -> None:
    node = LocalNode(tmp_path / "chain", port=free_port(), chain_id=31337)
    node.start()
    try:
        deployment, db = tmp_path / "deployment.json", tmp_path / "outbox.sqlite"
        ledger = deploy_to(node.url, deployment)
        writer = start_writer(node.url, deployment, db, "write", str(TOTAL))
        acked = read_acks_until(writer, 60)
        kill(writer)
        assert len(opened_contents(ledger)) < TOTAL  # the kill landed mid-stream
        recover_and_check(node.url, deployment, db, acked, ledger)
    finally:
        node.stop()


def test_sigkill_of_writer_and_node_together(tmp_path: Path) -> None:
    """The node comes back from a state dump up to a second old; the outbox replays what it lost."""
    node = LocalNode(tmp_path / "chain", port=free_port(), chain_id=31337)
    node.start()
    try:
        deployment, db = tmp_path / "deployment.json", tmp_path / "outbox.sqlite"
        ledger = deploy_to(node.url, deployment)
        time.sleep(1.5)  # let a state dump include the deployment
        writer = start_writer(node.url, deployment, db, "write", str(TOTAL))
        acked = read_acks_until(writer, 80)
        node.kill()
        kill(writer)
        node.start()
        ledger = Web3Ledger(Web3(Web3.HTTPProvider(node.url)), ledger.deployment)
        recover_and_check(node.url, deployment, db, acked, ledger)
    finally:
        node.stop()
