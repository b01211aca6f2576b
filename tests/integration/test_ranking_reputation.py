"""Human rankings on chain move respondents' reputation through the settler's batch, with a weight."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from eth_account.signers.local import LocalAccount

from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.reputation.beta import RepState, aggregate, apply_update
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, plan_settlement
from llmnet.rlhf.book import RankingBook, ResponseEntry
from llmnet.rlhf.feed import RankingFeed
from llmnet.store import content_hash
from llmnet.types import ProviderProfile
from tests.conftest import TEST_PARAMS

pytestmark = pytest.mark.integration
FEE = 10**13


def register(ledger: Web3Ledger, who: LocalAccount) -> None:
    profile = ProviderProfile(endpoint="http://127.0.0.1:8401", domains=("general",), model_id="smollm2",
                              weights_hash="0x" + "ab" * 32, model_version="1", licence="Apache-2.0")  # fmt: skip
    ledger.register_provider(profile, TEST_PARAMS.min_stake, who)


def conversation(book: RankingBook, a: LocalAccount, b: LocalAccount, tag: str, author: LocalAccount) -> int:
    entries = [ResponseEntry(content_hash(f"{tag} by {w.address}".encode()), w.address, "smollm2", "1", "Apache-2.0")
               for w in (a, b)]  # fmt: skip
    cid, _ = book.post_conversation(content_hash(tag.encode()), "general", entries, author)
    return cid


def test_a_verified_ranking_feeds_reputation_once_and_with_its_weight(
    ledger: Web3Ledger, governance: LocalAccount, accounts: list[LocalAccount]
) -> None:
    a, b, carol, dave = accounts[:4]
    for who in (a, b):
        register(ledger, who)
    book = RankingBook(ledger)
    real = conversation(book, a, b, "real", carol)
    forged = conversation(book, a, b, "forged", dave)  # responses no settler ever verified
    feed = RankingFeed(sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None),
                       threading.Lock(), book, weight=0.5, wait_s=0.0)  # fmt: skip
    feed.remember((content_hash(f"real by {w.address}".encode()), w.address, "general") for w in (a, b))
    book.submit_ranking(real, [1, 0], carol)  # b is better
    book.submit_ranking(real, [0, 1], carol)  # a revision: on chain, but counted once
    book.submit_ranking(real, [0, 1], a)  # a ranks itself first: no evidence
    book.submit_ranking(forged, [0, 1], dave)
    keys, extra = feed.take()
    assert keys == [(real, carol.address)]
    assert [(o.provider, o.score, o.weight) for o in extra] == [(b.address, 1.0, 0.5), (a.address, 0.0, 0.5)]
    assert feed.states() == {"ready": 1, "ignored": 2}  # the self-ranking and the forged one
    feed.mark(keys, record_id=1)
    assert feed.take() == ([], [])
    assert feed.states() == {"submitted": 1, "ignored": 2}

    ledger.set_settler(governance.address, True, governance)
    ledger.deposit(FEE, governance)
    task = ledger.open_task("general", "0x" + "55" * 32, 2, ledger.now() + 3600, FEE, governance).value
    assert task is not None
    outcome = TaskOutcome(task_id=task, domain="general", fee=FEE, requester=governance.address,
                          coordinator=governance.address, scores={a.address: 0.5, b.address: 0.5}, validators=(),
                          receipt_hash="0x" + "44" * 32)  # fmt: skip
    ledger.settle_batch(plan_settlement([outcome], FeeSplit(), ledger.decay, extra), governance)
    rep_a, rep_b = (ledger.reputation(w.address, "general") for w in (a, b))
    assert (rep_a.count, rep_b.count) == (2, 2)
    assert rep_b.mean() > 0.5 > rep_a.mean()
    expected_b = apply_update(RepState(), aggregate([0.5, 1.0], ledger.decay, [1.0, 0.5]), ledger.decay, 0)
    assert (rep_b.alpha, rep_b.beta) == (expected_b.alpha, expected_b.beta)
