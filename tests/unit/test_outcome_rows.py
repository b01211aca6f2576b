"""The array forms of settlement and trust equal the per-task forms on random inputs."""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
import pytest

from llmnet.errors import InputError
from llmnet.reputation.beta import DECAY_ONE
from llmnet.reputation.consensus import weighted_median
from llmnet.reputation.outcome_rows import concat_rows, rater_evidence, rating_arrays
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, outcome_rows, plan_rows, plan_settlement, split_fee
from llmnet.reputation.trust import TrustRule, fold_trust, update_trust
from llmnet.roles.trust_keeper import TrustKeeper

ACCOUNTS = ["0xA", "0xB", "0xC", "0xD", "0xV1", "0xV2", "0xV3", "0xCO", "0xRQ"]


def random_outcome(rng: random.Random, task_id: int) -> TaskOutcome:
    scores = {a: rng.choice([0.0, 1.0, rng.random()]) for a in rng.sample(ACCOUNTS[:5], rng.randint(0, 4))}
    validators = tuple(rng.sample(ACCOUNTS[3:8], rng.randint(0, 3)))
    return TaskOutcome(
        task_id=task_id, domain=rng.choice(["law", "med"]), requester=rng.choice(["0xRQ", "0xCO"]),
        fee=rng.choice([rng.randrange(1, 10**6), rng.randrange(1, 10**18), rng.randrange(1, 2**70)]),
        coordinator="0xCO", scores=scores, validators=validators, receipt_hash=f"0x{task_id + 1:064x}",
        failed=frozenset(rng.sample(ACCOUNTS[:5], rng.randint(0, 2))), gold=rng.random() < 0.2,
        validator_weights={v: rng.choice([0.0, 3 * rng.random()]) for v in validators if rng.random() < 0.8},
        agreement={v: rng.uniform(-0.2, 1.2) for v in validators},
        ratings={v: {a: rng.uniform(1, 10) for a in scores if rng.random() < 0.9} for v in validators},
        targets={a: rng.uniform(1, 10) for a in scores},
    )  # fmt: skip


def test_a_batch_pays_what_its_tasks_pay_one_by_one() -> None:
    rng = random.Random(0)
    for _ in range(300):
        outcomes = [random_outcome(rng, i) for i in range(rng.randint(1, 8))]
        totals: dict[str, int] = defaultdict(int)
        for o in outcomes:
            pay = split_fee(o, FeeSplit())
            assert sum(pay.values()) == o.fee and all(amount > 0 for amount in pay.values())
            for who, amount in pay.items():
                totals[who] += amount
        batch = plan_settlement(outcomes, FeeSplit(), 98 * 10**16)
        assert [(p.payee, p.amount) for p in batch.payouts] == list(totals.items())  # same payees, same order


def test_rows_joined_settle_as_one_batch() -> None:
    rng = random.Random(1)
    outcomes = [random_outcome(rng, i) for i in range(12)]
    whole = outcome_rows(outcomes)
    # rows built separately name their accounts in different tables: joining them is refused
    parts = [outcome_rows(outcomes[:5]), outcome_rows(outcomes[5:])]
    with pytest.raises(InputError, match="same table of names"):
        concat_rows(parts)
    assert plan_rows(whole, FeeSplit(), DECAY_ONE) == plan_settlement(outcomes, FeeSplit(), DECAY_ONE)
    joined = concat_rows([whole, whole])
    assert len(joined) == 24 and joined.task_ids == whole.task_ids * 2


def test_fold_trust_is_update_trust_in_turn() -> None:
    rng = random.Random(2)
    rule = TrustRule()
    for _ in range(200):
        evidence = [rng.random() for _ in range(rng.randint(0, 30))]
        gold = [rng.random() < 0.3 for _ in evidence]
        trust = expected = rng.random()
        for e, g in zip(evidence, gold, strict=True):
            expected = update_trust(expected, e, rule, gold=g)
        assert fold_trust(trust, evidence, gold, rule) == expected
    with pytest.raises(InputError, match=r"evidence \(1.5\) must lie in \[0, 1\]"):
        fold_trust(0.5, [0.2, 1.5], [False, False], rule)


class _Book:
    def validators(self) -> list[object]:
        return []


def test_trust_keeper_folds_each_raters_batch_evidence() -> None:
    rng = random.Random(3)
    outcomes = [random_outcome(rng, i) for i in range(40)]
    keeper = TrustKeeper(_Book(), ttl_s=float("inf"))  # type: ignore[arg-type]
    keeper.trust["0xV1"] = 0.9
    rows = outcome_rows(outcomes)
    found = rater_evidence(rows, np.zeros(len(rows.names)), keeper.evidence)  # nobody staked: equal weights
    expected = dict(keeper.trust)
    for who, (evidence, gold, counts) in found.items():
        name = rows.names[who]
        expected[name] = fold_trust(expected.get(name, keeper.rule.initial), evidence, gold, keeper.rule, counts)
    recorded = keeper.observe(outcomes, unrevealed=["0xV9"])
    expected["0xV9"] = update_trust(keeper.rule.initial, 0.0, keeper.rule, gold=True)
    assert found and keeper.trust == expected
    assert recorded == [(v, round(expected[v] * 1_000_000)) for v in sorted(expected) if v != "0xV1" or any(
        who == rows.names.index("0xV1") for who in found)]  # fmt: skip


def expected_target(o: TaskOutcome, rater: str, respondent: str) -> float | None:
    """The truth on a gold task; otherwise the weighted median of the other raters' ratings of
    that respondent (equal weights when they all weigh 0), None when nobody else rated it."""
    if o.gold:
        return o.targets[respondent]
    others = [(o.ratings[v][respondent], o.validator_weights.get(v, 0.0)) for v in o.agreement
              if v != rater and respondent in o.ratings.get(v, {})]  # fmt: skip
    if not others:
        return None
    weights = [w for _, w in others] if any(w > 0 for _, w in others) else [1.0] * len(others)
    return weighted_median([x for x, _ in others], weights)


def test_rows_carry_each_rating_and_its_target() -> None:
    rng = random.Random(4)
    outcomes = [random_outcome(rng, i) for i in range(30)]
    rows = outcome_rows(outcomes)
    rater, rating, target, task, gold = rating_arrays(rows)
    got = sorted(zip(task.tolist(), [rows.names[r] for r in rater], rating.tolist(), target.tolist(), strict=True))
    want = sorted((i, v, x, target) for i, o in enumerate(outcomes) for v in o.agreement
                  for a, x in o.ratings.get(v, {}).items()
                  if (target := expected_target(o, v, a)) is not None)  # fmt: skip
    assert got == want
    assert any(o.gold for o in outcomes) and not all(o.gold for o in outcomes)
    assert gold.tolist() == [outcomes[i].gold for i in task.tolist()]
    joined = concat_rows([rows, rows])
    assert len(rating_arrays(joined)[1]) == 2 * len(rating)


def test_a_batch_nobody_rated_settles_and_moves_no_trust() -> None:
    # k = 1 networks without validators rating settle batches whose tasks carry no ratings at all
    def unrated(i: int) -> TaskOutcome:
        return TaskOutcome(task_id=i, domain="law", requester="0xRQ", fee=10**6, coordinator="0xCO",
                           scores={"0xA": 0.5}, validators=(), receipt_hash=f"0x{i + 1:064x}")  # fmt: skip

    outcomes = [unrated(i) for i in range(3)]
    keeper = TrustKeeper(_Book(), ttl_s=float("inf"))  # type: ignore[arg-type]
    assert keeper.observe(outcomes) == [] and keeper.trust == {}
    batch = plan_settlement(outcomes, FeeSplit(), DECAY_ONE)
    assert [u.provider for u in batch.updates] == ["0xA"] and sum(p.amount for p in batch.payouts) == 3 * 10**6
