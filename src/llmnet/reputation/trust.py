"""How much each validator's ratings count, and what it earns (pure, no I/O).

A validator's *trust* in [0, 1] is an exponential moving average of evidence about it:

- its agreement with the consensus on every task it rated (see
  :func:`llmnet.reputation.consensus.robust_consensus`);
- its accuracy on *gold* tasks, whose answers the coordinator already knows and mixes into
  the stream unannounced; one gold observation weighs ``TrustRule.gold_weight`` ordinary ones,
  because it is measured against the truth rather than against the other validators;
- a commitment it never revealed counts as a gold observation of 0.

Its *weight*, the say it has in consensus and its share of the validators' pay, is
``stake x trust ** TrustRule.power``. A newcomer starts at ``TrustRule.initial`` and has to
earn the rest. The power is 2: a validator rating at random still lands near the consensus now
and then, and settles at a trust of about 0.3 where honest ones hold about 0.9; squared, its say
falls from a third of an honest validator's to a ninth.

>>> rule = TrustRule()
>>> t = rule.initial
>>> for _ in range(20):
...     t = update_trust(t, 1.0, rule)
>>> round(t, 3)
0.939
>>> round(update_trust(t, 0.0, rule, gold=True), 3)
0.685
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llmnet.errors import InputError


@dataclass(frozen=True)
class TrustRule:
    rate: float = 0.1  # how far one ordinary observation moves trust towards it
    initial: float = 0.5  # a new validator's trust
    gold_weight: float = 3.0  # one gold (or unrevealed) observation counts this many ordinary ones
    power: float = 2.0  # weight = stake x trust ** power

    def __post_init__(self) -> None:
        if not 0 < self.rate <= 1:
            raise InputError(f"TrustRule.rate must be in (0, 1], got {self.rate!r}")
        if not 0 <= self.initial <= 1:
            raise InputError(f"TrustRule.initial must be in [0, 1], got {self.initial!r}")
        if not (math.isfinite(self.gold_weight) and self.gold_weight >= 1):
            raise InputError(f"TrustRule.gold_weight must be 1 or more, got {self.gold_weight!r}")
        if not (math.isfinite(self.power) and self.power > 0):
            raise InputError(f"TrustRule.power must be a positive number, got {self.power!r}")


def update_trust(trust: float, evidence: float, rule: TrustRule, *, gold: bool = False) -> float:
    """Trust moved towards ``evidence`` (in [0, 1]) by one observation, ``gold_weight`` of them for gold."""
    return fold_trust(trust, [evidence], [gold], rule)


def fold_trust(trust: float, evidence: Sequence[float], gold: Sequence[bool], rule: TrustRule) -> float:
    """:func:`update_trust` applied for each observation in turn (``gold[i]``: observation i is gold)."""
    if len(evidence) != len(gold):
        raise InputError(f"{len(evidence)} observations but {len(gold)} gold flags; give one flag per observation")
    bad = next((e for e in evidence if not 0 <= e <= 1), None)
    if bad is not None or not 0 <= trust <= 1:
        shown = bad if bad is not None else (evidence[0] if evidence else None)
        raise InputError(f"trust ({trust!r}) and evidence ({shown!r}) must lie in [0, 1]")
    steps = (1.0 - (1.0 - rule.rate) ** 1.0, 1.0 - (1.0 - rule.rate) ** rule.gold_weight)
    for e, g in zip(evidence, gold, strict=True):
        trust = trust + steps[g] * (e - trust)
    return trust


def validator_weights(stakes: Mapping[str, int], trust: Mapping[str, float], rule: TrustRule) -> dict[str, float]:
    """stake x trust ** power per validator (stake in wei, scaled to ether so weights stay readable)."""
    return {v: (stake / 1e18) * trust.get(v, rule.initial) ** rule.power for v, stake in stakes.items()}


def pay_shares(pool: int, weights: Mapping[str, float]) -> dict[str, int]:
    """``pool`` wei split in proportion to ``weights``; the rounding remainder goes to the heaviest,
    so the shares add up to ``pool`` exactly. Zero-weight validators get nothing."""
    positive = {v: w for v, w in weights.items() if w > 0}
    if pool < 0:
        raise InputError(f"cannot split a negative pool ({pool})")
    if not positive:
        return {}
    mass = sum(positive.values())
    shares = {v: int(pool * w / mass) for v, w in positive.items()}
    heaviest = max(positive, key=lambda v: (positive[v], v))
    shares[heaviest] += pool - sum(shares.values())
    return shares
