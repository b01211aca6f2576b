"""The embedded node keeps a bounded history, and what llmnet reads from it still works."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from web3 import Web3

from llmnet.chain.deploy import DeployParams, deploy_contracts
from llmnet.chain.network import dev_account
from llmnet.chain.node import LocalNode
from llmnet.chain.retention import KEEP_EVERYTHING, ChainRetention
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import NotFound
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, plan_settlement
from llmnet.types import ETHER, ProviderProfile
from llmnet.web.explorer import LedgerExplorer
from tests.conftest import free_port

pytestmark = pytest.mark.integration
FEE = 10**15


def settle_one_batch(ledger: Web3Ledger, rng: random.Random) -> tuple[str, str]:
    """Open and settle 3 tasks; returns (settlement tx hash, receipts root)."""
    requester, gov = dev_account(14), dev_account(0)
    hashes = ["0x" + rng.randbytes(32).hex() for _ in range(3)]
    first = ledger.open_tasks(requester.address, "general", hashes, [FEE] * 3, 1, ledger.now() + 3600, requester)
    assert first.value is not None
    outcomes = [
        TaskOutcome(task_id=first.value + i, domain="general", fee=FEE, requester=requester.address,
                    coordinator=dev_account(13).address, scores={dev_account(1).address: 0.9},
                    validators=(dev_account(11).address,), receipt_hash="0x" + rng.randbytes(32).hex())
        for i in range(3)
    ]  # fmt: skip
    batch = plan_settlement(outcomes, FeeSplit(), ledger.decay)
    return ledger.settle_batch(batch, gov).tx_hash, batch.receipts_root


def test_old_transactions_are_dropped_and_readers_use_what_is_kept(tmp_path: Path) -> None:
    assert ChainRetention().anvil_args() == ["--prune-history", "1", "--transaction-block-keeper", "8192"]
    # a short window (below the outbox's minimum, so built without validation) keeps the test quick
    retention = ChainRetention.model_construct(state_history=1, history_blocks=64)
    node = LocalNode(tmp_path / "chain", port=free_port(), chain_id=31337, retention=retention)
    node.start()
    try:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        ledger = Web3Ledger(w3, deploy_contracts(w3, dev_account(0), DeployParams(domains=("general",))))
        profile = ProviderProfile(endpoint="http://127.0.0.1:1", domains=("general",), model_id="m")
        ledger.register_provider(profile, ETHER, dev_account(1))
        ledger.set_settler(dev_account(0).address, True, dev_account(0))
        ledger.deposit(ETHER, dev_account(14))
        rng = random.Random(3)
        old_tx, old_root = settle_one_batch(ledger, rng)
        w3.provider.make_request("anvil_mine", [hex(80)])  # type: ignore[arg-type]
        new_tx, new_root = settle_one_batch(ledger, rng)

        assert ledger.tx.receipt(old_tx) is None  # the node no longer holds the old transaction
        assert ledger.tx.receipt(new_tx) is not None
        assert ledger.get_batch(1).receipts_root == new_root and ledger.get_batch(1).task_count == 3
        with pytest.raises(NotFound, match="history_blocks"):
            ledger.get_batch(0)
        assert ledger.batch_root(0) == old_root  # kept in the contract's storage
        batches = LedgerExplorer(ledger).batches()
        assert [(b["batch_id"], b["task_count"]) for b in batches] == [(1, 3), (0, None)]
        assert batches[1]["receipts_root"] == old_root

        node.stop()  # durability: the dump of a pruned node loads again
        node.start()
        assert ledger.batch_count() == 2 and ledger.get_batch(1).receipts_root == new_root
        assert ledger.deposit_of(dev_account(14).address) == ETHER - 6 * FEE
    finally:
        node.stop()


def test_a_history_shorter_than_the_outbox_recheck_is_refused() -> None:
    with pytest.raises(ValueError, match="outbox re-checks"):
        ChainRetention(history_blocks=100)


def test_history_kept_by_an_earlier_version_is_dropped_on_the_next_start(tmp_path: Path) -> None:
    node = LocalNode(tmp_path / "chain", port=free_port(), chain_id=31337, retention=KEEP_EVERYTHING)
    node.start()
    try:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        ledger = Web3Ledger(w3, deploy_contracts(w3, dev_account(0), DeployParams(domains=("general",))))
        for _ in range(30):
            ledger.deposit(10**9, dev_account(14))
        node.stop()
        node.retention = ChainRetention.model_construct(state_history=1, history_blocks=10)
        node.start()
        assert len(ledger.escrow.events.Deposited().get_logs(from_block=0)) == 10
        assert ledger.deposit_of(dev_account(14).address) == 30 * 10**9  # state untouched
        ledger.deposit(10**9, dev_account(14))  # and the node goes on from there
        assert ledger.deposit_of(dev_account(14).address) == 31 * 10**9
    finally:
        node.stop()
