"""Outbox intake rules on a real node: refused writes are not stored, keys are idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmnet.chain.network import dev_account
from llmnet.chain.outbox import Outbox
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import UnknownDomain

pytestmark = pytest.mark.integration


def test_refused_write_is_not_acknowledged(ledger: Web3Ledger, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", ledger, [dev_account(5)])
    call = ledger.open_task_call("general", "0x" + "01" * 32, 1, 1, 10**15)  # deadline in the past
    with pytest.raises(Exception, match="deadline must be in the future"):
        outbox.submit(call, dev_account(5))
    assert outbox.count() == 0
    with pytest.raises(UnknownDomain):
        ledger.open_task_call("cooking", "0x" + "01" * 32, 1, ledger.now() + 60, 10**15)
    outbox.close()


def test_same_key_is_one_record_and_one_transaction(ledger: Web3Ledger, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", ledger, [dev_account(5)])
    call = ledger.open_task_call("general", "0x" + "02" * 32, 1, ledger.now() + 600, 10**15)
    first = outbox.submit(call, dev_account(5), key="k1")
    assert outbox.submit(call, dev_account(5), key="k1") == first
    before = ledger.task_count()
    record = outbox.wait(first)
    assert record.state == "mined" and record.tx_hash
    assert ledger.task_count() == before + 1
    assert outbox.recover().confirmed >= 1 and ledger.task_count() == before + 1
    outbox.close()


def test_background_drainer_mines_in_order(ledger: Web3Ledger, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", ledger, [dev_account(6)])
    outbox.start()
    deadline = ledger.now() + 600
    ids = [
        outbox.submit(ledger.open_task_call("law", "0x" + f"{i + 1:064x}", 2, deadline, 10**15), dev_account(6))
        for i in range(20)
    ]
    records = [outbox.wait(i, timeout=60) for i in ids]
    outbox.close()
    assert all(r.state == "mined" for r in records)
    nonces = [r.nonce for r in records]
    assert nonces == sorted(nonces) and len(set(nonces)) == 20
