from __future__ import annotations

import pytest

from llmnet.errors import InputError
from llmnet.reputation.trust import TrustRule, pay_shares, update_trust, validator_weights

RULE = TrustRule()


def converge(trust: float, evidence: float, n: int, *, gold: bool = False) -> float:
    for _ in range(n):
        trust = update_trust(trust, evidence, RULE, gold=gold)
    return trust


def test_trust_moves_towards_the_evidence_and_stays_in_range() -> None:
    assert converge(RULE.initial, 1.0, 50) == pytest.approx(1.0, abs=0.01)
    assert converge(RULE.initial, 0.0, 50) == pytest.approx(0.0, abs=0.01)
    assert 0.0 <= converge(0.3, 0.7, 3) <= 1.0


def test_one_gold_observation_weighs_as_much_as_gold_weight_ordinary_ones() -> None:
    ordinary = converge(0.9, 0.0, 3)
    assert update_trust(0.9, 0.0, RULE, gold=True) == pytest.approx(ordinary)


def test_stake_times_squared_trust_and_pay_in_proportion() -> None:
    weights = validator_weights({"a": 4 * 10**18, "b": 10**18, "new": 10**18}, {"a": 0.5, "b": 1.0}, RULE)
    assert weights == {"a": 1.0, "b": 1.0, "new": RULE.initial**2}
    shares = pay_shares(900, weights)
    assert sum(shares.values()) == 900
    assert shares["new"] == 100 and abs(shares["a"] - shares["b"]) <= 1
    assert pay_shares(100, {"x": 0.0}) == {}
    linear = validator_weights({"a": 10**18}, {"a": 0.5}, TrustRule(power=1.0))
    assert linear == {"a": 0.5}


def test_a_random_rater_keeps_little_say_against_honest_validators() -> None:
    # rating uniformly at random on 1-10 against a consensus of 8, a validator's agreement
    # averages 0.3 (see ClipRule.agreement); honest validators average about 0.9
    random_trust, honest_trust = converge(RULE.initial, 0.3, 100), converge(RULE.initial, 0.9, 100)
    stakes = {f"honest-{i}": 10**18 for i in range(6)} | {"random": 10**18}
    trust = dict.fromkeys(stakes, honest_trust) | {"random": random_trust}
    weights = validator_weights(stakes, trust, RULE)
    share = weights["random"] / sum(weights.values())
    linear = validator_weights(stakes, trust, TrustRule(power=1.0))
    assert share < 0.05 < linear["random"] / sum(linear.values())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate": 0.0}, "rate"),
        ({"initial": 1.5}, "initial"),
        ({"gold_weight": 0.5}, "gold_weight"),
        ({"power": 0.0}, "power"),
        ({"power": float("nan")}, "power"),
    ],
)
def test_trust_rule_refuses_nonsense(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InputError, match=match):
        TrustRule(**kwargs)


def test_update_refuses_evidence_outside_the_unit_interval() -> None:
    with pytest.raises(InputError, match="must lie in"):
        update_trust(0.5, 1.5, RULE)
    with pytest.raises(InputError, match="negative pool"):
        pay_shares(-1, {"a": 1.0})
