"""The settler's view of the validator book: stake x trust per validator in good standing, and
the trust each settled batch earns or costs them (see :mod:`llmnet.reputation.trust`)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Sequence

import numpy as np

from llmnet.chain.ledger import Ledger
from llmnet.reputation.outcome_rows import OutcomeRows, rater_evidence
from llmnet.reputation.settlement import TaskOutcome, outcome_rows
from llmnet.reputation.trust import EvidenceRule, TrustRule, fold_trust, update_trust, validator_weights


class TrustKeeper:
    """The settler's view of the validator book: stake x trust per registered validator, and
    the trust each settled batch earns or costs them, recorded on chain after the batch.

    ``only``: when not empty, ratings count only from these validators (a deployment's allowlist)."""

    def __init__(self, ledger: Ledger, rule: TrustRule | None = None, *, ttl_s: float = 5.0,
                 only: frozenset[str] = frozenset(), evidence: EvidenceRule | None = None) -> None:  # fmt: skip
        self.ledger, self.rule, self.ttl_s, self.only = ledger, rule or TrustRule(), ttl_s, only
        self.evidence = evidence or EvidenceRule()
        self.trust: dict[str, float] = {}
        self._stakes: dict[str, int] = {}
        self.known: frozenset[str] = frozenset()
        self._read_at = -math.inf
        self.lock = threading.Lock()

    def weights(self, need: Iterable[str] = ()) -> dict[str, float]:
        """stake x trust per validator in good standing (the others weigh nothing); read again from
        the chain when older than ``ttl_s`` or when a validator in ``need`` is not known yet (it
        may have just registered). ``known`` is then every validator in the book (whose signed
        ratings are accepted, and count only while it is in good standing)."""
        with self.lock:
            # never read counts as stale even with ttl_s = inf (inf - -inf > inf is False)
            stale = self._read_at == -math.inf or time.monotonic() - self._read_at > self.ttl_s
            if stale or any(v not in self.known for v in need):
                book = [v for v in self.ledger.validators() if not self.only or v.address in self.only]
                minimum = self.ledger.validator_min_stake if book else 0
                self.known = frozenset(v.address for v in book)
                self._stakes = {v.address: v.stake for v in book if v.in_good_standing(minimum)}
                for v in book:
                    self.trust.setdefault(v.address, v.trust)
                self._read_at = time.monotonic()
            return validator_weights(self._stakes, self.trust, self.rule)

    def observe(self, outcomes: Sequence[TaskOutcome], unrevealed: Iterable[str] = ()) -> list[tuple[str, int]]:
        """Fold the batch's evidence into trust: each rater's chance-corrected agreement over the
        batch's ordinary tasks and over its gold ones (see :mod:`llmnet.reputation.trust`), and
        for every (validator, epoch) whose ratings were not revealed, one gold-weight observation
        of 0. Returns the (validator, ppm) pairs to record."""
        return self.observe_rows(outcome_rows(outcomes), unrevealed)

    def observe_rows(self, rows: OutcomeRows, unrevealed: Iterable[str] = ()) -> list[tuple[str, int]]:
        """:meth:`observe` for outcomes given as rows."""
        with self.lock:
            changed: set[str] = set()
            now = validator_weights(self._stakes, self.trust, self.rule)
            weights = np.array([now.get(name, 0.0) for name in rows.names])
            for who, (evidence, gold, counts) in rater_evidence(rows, weights, self.evidence).items():
                validator = rows.names[who]
                current = self.trust.get(validator, self.rule.initial)
                self.trust[validator] = fold_trust(current, evidence, gold, self.rule, counts)
                changed.add(validator)
            for validator in unrevealed:
                current = self.trust.get(validator, self.rule.initial)
                self.trust[validator] = update_trust(current, 0.0, self.rule, gold=True)
                changed.add(validator)
            return [(v, round(self.trust[v] * 1_000_000)) for v in sorted(changed)]
