"""Commit-reveal of ratings end to end on a real anvil node: a validator's rating log, its
worker committing and revealing epoch by epoch, and the settler's check of what was revealed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from llmnet.chain.commit_reveal import commitment, new_salt, ratings_root
from llmnet.chain.outbox import Outbox
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import InputError, NotFound
from llmnet.reputation.settlement import TaskOutcome
from llmnet.roles.epochs import CommitRevealWorker, EpochClock, RatingLog, RevealedRatings, RevealUnavailable
from llmnet.roles.trust_keeper import TrustKeeper
from tests.conftest import TEST_PARAMS, advance_time

pytestmark = pytest.mark.integration

JUDGE = "0x" + "cd" * 32
DIGESTS = ["0x" + f"{i:02x}" * 32 for i in range(1, 4)]


def register(ledger: Web3Ledger, *validators: LocalAccount) -> None:
    for v in validators:
        ledger.register_validator(f"http://{v.address.lower()}.test", "judge-model", JUDGE,
                                  TEST_PARAMS.validator_min_stake, v)  # fmt: skip


def align(ledger: Web3Ledger, w3: Web3, into: int = 2) -> int:
    """Move chain time to ``into`` seconds after the start of the next epoch; returns that epoch."""
    advance_time(w3, ledger.epoch_length - ledger.pending_time() % ledger.epoch_length + into)
    return ledger.current_epoch()


def test_the_worker_commits_then_reveals_what_the_log_holds(
    ledger: Web3Ledger, w3: Web3, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    v = accounts[5]
    register(ledger, v)
    log = RatingLog(tmp_path / "ratings.sqlite")
    clock = EpochClock(ledger, refresh_s=0)
    worker = CommitRevealWorker(log, clock, ledger, v, Outbox(tmp_path / "outbox.sqlite", ledger, [v]))
    rated = align(ledger, w3)
    assert clock.epoch() == rated
    log.add(rated, DIGESTS[:2])
    log.add(rated, DIGESTS[2:])
    worker.step()  # still the rating epoch: nothing to do
    assert ledger.validator_book.functions.commitments(v.address, rated).call() == bytes(32)
    align(ledger, w3)
    worker.step()
    assert ledger.validator_book.functions.commitments(v.address, rated).call() != bytes(32)
    with pytest.raises(InputError, match="already committed"):
        log.add(rated, ["0x" + "ee" * 32])  # too late for this epoch's commitment
    with pytest.raises(NotFound, match="not revealed"):
        log.revealed(rated)
    align(ledger, w3)
    worker.step()
    assert worker.last_error is None
    assert ledger.revealed_root(v.address, rated) == ratings_root(DIGESTS)
    assert log.revealed(rated) == DIGESTS
    assert log.pending() == []


def serve_lists(lists: dict[str, list[str] | None]) -> httpx.Client:
    """Validators' /v1/epochs endpoints: host -> the digests it shows (None: it is down)."""

    def handler(request: httpx.Request) -> httpx.Response:
        listed = lists[request.url.host]
        if listed is None:
            raise httpx.ConnectError("down", request=request)
        return httpx.Response(200, json={"digests": listed})

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_only_revealed_lists_that_match_their_root_count(
    ledger: Web3Ledger, w3: Web3, accounts: list[LocalAccount]
) -> None:
    honest, silent, liar, down = accounts[5], accounts[6], accounts[7], accounts[8]
    register(ledger, honest, silent, liar, down)
    rated = align(ledger, w3)
    salts = {a.address: new_salt() for a in (honest, silent, liar, down)}
    align(ledger, w3)
    for a in (honest, silent, liar, down):
        ledger.commit_ratings(rated, commitment(a.address, rated, ratings_root(DIGESTS), 3, salts[a.address]), a)
    align(ledger, w3)
    for a in (honest, liar, down):  # the silent one never reveals
        ledger.reveal_ratings(rated, ratings_root(DIGESTS), 3, salts[a.address], a)
    align(ledger, w3)
    http = serve_lists({honest.address.lower() + ".test": DIGESTS, silent.address.lower() + ".test": DIGESTS,
                        liar.address.lower() + ".test": DIGESTS[:2], down.address.lower() + ".test": None})  # fmt: skip
    reveals = RevealedRatings(ledger, lambda who: f"http://{who.lower()}.test", http)
    assert reveals.digests(honest.address, rated) == frozenset(DIGESTS)
    assert reveals.digests(silent.address, rated) is None
    assert reveals.digests(liar.address, rated) is None  # its list does not hash to its revealed root
    with pytest.raises(RevealUnavailable):
        reveals.digests(down.address, rated)  # asked again later, not held against it yet
    assert ledger.missed_reveal(silent.address, rated) and not ledger.missed_reveal(honest.address, rated)


def test_trust_falls_for_an_unrevealed_epoch_and_rises_with_agreement(ledger: Web3Ledger) -> None:
    keeper = TrustKeeper(ledger)
    task = TaskOutcome(task_id=0, domain="general", fee=0, requester="0xR", coordinator="0xC",
                       scores={"p": 0.9, "q": 0.1}, validators=("a", "b"), receipt_hash="0x" + "11" * 32,
                       agreement={"a": 1.0, "b": 1.0}, targets={"p": 9.0, "q": 2.0},
                       ratings={"a": {"p": 9.0, "q": 2.0}, "b": {"p": 9.0, "q": 2.0}})  # fmt: skip
    updates = dict(keeper.observe([task], unrevealed=["b"]))
    assert updates["a"] > 500_000  # agreed, up from the initial 0.5
    assert updates["b"] < 500_000  # agreed too, but its unrevealed epoch weighs three observations of 0
