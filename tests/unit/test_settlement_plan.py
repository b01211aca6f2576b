from __future__ import annotations

import random

import pytest

from llmnet.chain.merkle import MerkleTree, verify_proof
from llmnet.errors import InputError
from llmnet.reputation.beta import DECAY_ONE, aggregate
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, plan_settlement, split_fee

A, B, C, V1, V2, COORD, REQ = "0xA", "0xB", "0xC", "0xV1", "0xV2", "0xCO", "0xRQ"


def outcome(task_id: int, scores: dict[str, float], fee: int = 10**15, **kw: object) -> TaskOutcome:
    return TaskOutcome(
        task_id=task_id, domain="law", fee=fee, requester=REQ, coordinator=COORD, scores=scores,
        validators=kw.pop("validators", (V1, V2)), receipt_hash="0x" + f"{task_id + 1:064x}", **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_split_is_exact_and_proportional() -> None:
    rng = random.Random(3)
    for _ in range(500):
        fee = rng.randrange(1, 10**18)
        scores = {A: rng.random(), B: rng.random(), C: rng.random()}
        pay = split_fee(outcome(0, scores, fee), FeeSplit())
        assert sum(pay.values()) == fee
        if scores[A] > scores[B]:
            assert pay.get(A, 0) >= pay.get(B, 0)


def test_failed_respondent_is_not_paid_and_gets_a_failure() -> None:
    o = outcome(0, {A: 0.9, B: 0.7}, failed=frozenset({B}))
    pay = split_fee(o, FeeSplit())
    assert B not in pay and pay[A] == int(o.fee * 0.8)
    batch = plan_settlement([o], FeeSplit(), DECAY_ONE)
    rep = {u.provider: u.delta for u in batch.updates}
    assert rep[B].successes == 0 and rep[B].failures == 10**9


def test_nobody_earned_means_the_requester_gets_the_respondent_share_back() -> None:
    pay = split_fee(outcome(0, {A: 0.0}, validators=()), FeeSplit())
    assert pay[REQ] == int(10**15 * 0.8) + int(10**15 * 0.15)


def test_batch_aggregates_per_payee_and_pair_in_task_order() -> None:
    outcomes = [outcome(i, {A: 0.1 * i, B: 1.0}) for i in range(5)]
    batch = plan_settlement(outcomes, FeeSplit(), 9 * 10**17)
    assert batch.task_ids == (0, 1, 2, 3, 4)
    assert sum(p.amount for p in batch.payouts) == 5 * 10**15
    assert len({p.payee for p in batch.payouts}) == len(batch.payouts)
    deltas = {u.provider: u.delta for u in batch.updates}
    assert deltas[A] == aggregate([0.0, 0.1, 0.2, 0.30000000000000004, 0.4], 9 * 10**17)
    tree = MerkleTree([o.receipt_hash for o in outcomes])
    assert batch.receipts_root == tree.root
    assert verify_proof(batch.receipts_root, outcomes[3].receipt_hash, tree.proof(3))


def test_bad_split_and_empty_batch_are_refused() -> None:
    with pytest.raises(InputError, match="add up to 1"):
        FeeSplit(respondents=0.9, validators=0.2, coordinator=0.0)
    with pytest.raises(InputError, match="empty batch"):
        plan_settlement([], FeeSplit(), DECAY_ONE)
