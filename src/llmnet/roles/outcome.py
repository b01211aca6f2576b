"""A finished task, as one typed object from the coordinator's answer to the settler's batch.

    Gateway.finish ──TaskRecord──▶ TaskBook (SQLite) ──▶ Accountant opens the task on chain
        ──Outcome (TaskRecord + signed OutcomeClaim)──▶ settler: verify_outcome ──CheckedOutcome──▶
        SettlementQueue (SQLite) ──score_outcome──▶ TaskOutcome ──▶ one settlement batch

- :class:`TaskRecord` is what the coordinator writes before the answer is returned: the receipt
  the requester got (and its hash), and the final responses and ratings, each signed by its
  respondent or validator.
- :class:`Outcome` adds the coordinator's :class:`~llmnet.signing.OutcomeClaim`, signed once the
  task has its on-chain id. The claim carries every field settlement pays by; the settler uses
  the claim's fields and refuses an outcome whose record says anything else.
- :class:`CheckedOutcome` is an outcome whose every signature verified, reduced to what
  settlement needs; it is what the settler queues.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from llmnet.errors import InputError, SignatureError
from llmnet.reputation.consensus import ClipRule, Consensus, normalize_score, robust_consensus
from llmnet.reputation.settlement import TaskOutcome
from llmnet.roles.admission import Coordinators, as_coordinators
from llmnet.roles.common import verified
from llmnet.signing import OutcomeClaim, Rating, Response, SignedMessage, SigningDomain, sign, typed_data_hash
from llmnet.store import canonical_json, content_hash


class ReceiptRespondent(BaseModel):
    model_config = ConfigDict(extra="allow")

    address: StrictStr
    failure: StrictStr | None = None


class ReceiptView(BaseModel):
    """The fields of a receipt that settlement reads (the receipt itself stays the JSON document
    the requester got, whose hash is signed and committed on chain)."""

    model_config = ConfigDict(extra="allow")

    task_key: StrictStr
    chain_id: StrictInt
    domain: StrictStr
    requester: StrictStr
    fee_wei: StrictInt
    respondents: list[ReceiptRespondent]
    gold: dict[str, StrictFloat | StrictInt] | None = None


class TaskRecord(BaseModel):
    """An answered task as the coordinator records it, before it is opened on chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    receipt: dict[str, Any]
    receipt_hash: str
    responses: list[dict[str, Any]]  # final-round SignedMessage[Response].to_dict()
    ratings: list[dict[str, Any]] = Field(default_factory=list)  # SignedMessage[Rating].to_dict()

    @classmethod
    def of(cls, receipt: dict[str, Any], responses: Sequence[dict[str, Any]],
           ratings: Sequence[dict[str, Any]]) -> Self:  # fmt: skip
        """The record of a task answered with ``receipt``; the receipt's hash is computed here."""
        receipt_hash = content_hash(canonical_json(receipt))
        return cls(receipt=receipt, receipt_hash=receipt_hash, responses=list(responses), ratings=list(ratings))

    def view(self) -> ReceiptView:
        try:
            return ReceiptView.model_validate(self.receipt)
        except ValidationError as exc:
            raise InputError(f"the receipt of task {self.receipt.get('task_key')!r} is malformed: {exc}") from None

    def evidence_hash(self) -> str:
        """Commits to exactly these signed responses and ratings, in this order (a signature
        verifies for one message only, so committing to the signatures commits to the messages)."""
        return content_hash(canonical_json({"responses": [r.get("signature") for r in self.responses],
                                            "ratings": [r.get("signature") for r in self.ratings]}))  # fmt: skip

    def claim(self, task_id: int, account: LocalAccount, domain: SigningDomain) -> SignedMessage[OutcomeClaim]:
        """The coordinator's signed claim that on-chain task ``task_id`` is this task."""
        view = self.view()
        message = OutcomeClaim(
            task_id=task_id, task_key=int(view.task_key, 16), coordinator=account.address, requester=view.requester,
            domain=view.domain, fee=view.fee_wei, receipt_hash=self.receipt_hash, evidence_hash=self.evidence_hash(),
        )  # fmt: skip
        return sign(message, account, domain)


class Outcome(BaseModel):
    """A finished task as the coordinator hands it to the settler: the record and the signed claim."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    claim: dict[str, Any]  # SignedMessage[OutcomeClaim].to_dict()
    record: TaskRecord

    @property
    def task_id(self) -> int:
        """The on-chain id the outcome claims (unverified until :func:`verify_outcome`)."""
        message = self.claim.get("message")
        value = message.get("task_id") if isinstance(message, dict) else None
        return value if isinstance(value, int) else -1


class CheckedRating(BaseModel):
    model_config = ConfigDict(frozen=True)

    validator: str
    respondent: str
    score: float  # 1-10
    epoch: int
    digest: str


class CheckedOutcome(BaseModel):
    """An outcome whose every signature verified, reduced to what settlement needs."""

    model_config = ConfigDict(frozen=True)

    task_id: int
    task_key: int
    domain: str
    fee: int
    requester: str
    coordinator: str
    receipt_hash: str
    claim_digest: str  # the EIP-712 digest of the coordinator's claim: one claim per on-chain task
    failed: tuple[str, ...]
    ratings: tuple[CheckedRating, ...]
    gold: dict[str, float] | None = None  # respondent -> true score (1-10), for a gold task
    responses: dict[str, str] = Field(default_factory=dict)  # respondent -> signed content hash

    @property
    def ready_epoch(self) -> int:
        """The first epoch in which all of its ratings' reveal windows are over."""
        return max((r.epoch for r in self.ratings), default=-3) + 3


def _check_claim(
    o: Outcome, domain: SigningDomain, coordinators: Coordinators | Iterable[str]
) -> tuple[OutcomeClaim, ReceiptView]:
    signed = verified(o.claim, OutcomeClaim, domain)
    as_coordinators(coordinators).require(signed.signer, "outcome claim")
    claim = signed.message
    record, view = o.record, o.record.view()
    if content_hash(canonical_json(record.receipt)) != record.receipt_hash or record.receipt_hash != claim.receipt_hash:
        raise SignatureError(f"the receipt of task {claim.task_id} is not the receipt its coordinator signed")
    if record.evidence_hash() != claim.evidence_hash:
        raise SignatureError(f"the responses and ratings of task {claim.task_id} are not those its coordinator signed")
    said = (int(view.task_key, 16), view.chain_id, view.domain, view.requester.lower(), view.fee_wei)
    if said != (claim.task_key, domain.chain_id, claim.domain, claim.requester.lower(), claim.fee):
        raise InputError(f"the receipt of task {claim.task_id} disagrees with its claim (task key, chain, domain, "
                         "requester or fee)")  # fmt: skip
    return claim, view


def _responses(o: Outcome, claim: OutcomeClaim, domain: SigningDomain) -> dict[str, Response]:
    responses = {}
    for data in o.record.responses:
        r = verified(data, Response, domain).message
        if r.task_id != claim.task_key:
            raise InputError(f"a response for task {r.task_id} was filed under task {claim.task_key}")
        responses[r.respondent] = r
    return responses


def _ratings(o: Outcome, claim: OutcomeClaim, responses: Mapping[str, Response], domain: SigningDomain,
             validators: frozenset[str]) -> list[CheckedRating]:  # fmt: skip
    ratings = []
    for data in o.record.ratings:
        rating = verified(data, Rating, domain, validators).message
        if rating.task_id != claim.task_key:
            raise InputError(f"a rating for task {rating.task_id} was filed under task {claim.task_key}")
        answered = responses.get(rating.respondent)
        if answered is None or answered.content_hash != rating.response_hash:
            raise InputError(f"rating by {rating.validator} is for a response this task does not have")
        ratings.append(CheckedRating(validator=rating.validator, respondent=rating.respondent, score=rating.score / 100,
                                     epoch=rating.epoch, digest=typed_data_hash(rating, domain)))  # fmt: skip
    return ratings


def verify_outcome(o: Outcome, domain: SigningDomain, coordinators: Coordinators | Iterable[str],
                   validators: frozenset[str]) -> CheckedOutcome:  # fmt: skip
    """Verify an outcome: its claim is signed by one of ``coordinators`` (see llmnet.roles.admission)
    and agrees with the receipt and the evidence it carries; every response is signed by its
    respondent for this task; every rating by one of ``validators`` (the validator book), for a
    response it has."""
    claim, view = _check_claim(o, domain, coordinators)
    responses = _responses(o, claim, domain)
    ratings = _ratings(o, claim, responses, domain, validators)
    gold = view.gold
    if gold is not None and not all(1 <= v <= 10 for v in gold.values()):
        raise InputError(f"the gold scores of task {claim.task_id} are malformed: {gold!r}")
    return CheckedOutcome(
        task_id=claim.task_id, task_key=claim.task_key, domain=claim.domain, fee=claim.fee, requester=claim.requester,
        coordinator=claim.coordinator, receipt_hash=claim.receipt_hash,
        claim_digest=typed_data_hash(claim, domain),
        failed=tuple(sorted(r.address for r in view.respondents if r.failure is not None)),
        ratings=tuple(ratings), gold={k: float(v) for k, v in gold.items()} if gold is not None else None,
        responses={who: r.content_hash for who, r in responses.items()},
    )  # fmt: skip


def score_outcome(c: CheckedOutcome, ratings: Sequence[CheckedRating], weights: Mapping[str, float]) -> TaskOutcome:
    """The settled outcome from the ratings that count: one clipped, weighted consensus score
    per respondent, and each validator's agreement with it."""
    by_validator: dict[str, dict[str, float]] = {}
    for r in ratings:
        by_validator.setdefault(r.validator, {})[r.respondent] = r.score
    if c.gold is not None:  # the truth is known: respondents are scored by it, validators measured against it
        rule = ClipRule()
        agreement = {
            v: sum(rule.agreement(s, c.gold.get(who, s)) for who, s in mine.items()) / len(mine)
            for v, mine in by_validator.items()
        }
        return TaskOutcome(
            task_id=c.task_id, domain=c.domain, fee=c.fee, requester=c.requester, coordinator=c.coordinator,
            scores={who: normalize_score(s) for who, s in c.gold.items()}, validators=tuple(sorted(by_validator)),
            receipt_hash=c.receipt_hash, failed=frozenset(c.failed),
            validator_weights={v: weights.get(v, 0.0) * agreement[v] for v in by_validator},
            agreement=agreement, gold=True, ratings=by_validator, targets=dict(c.gold),
        )  # fmt: skip
    agreed = robust_consensus(by_validator, weights) if by_validator else None
    return consensus_outcome(c, agreed, weights, by_validator)


def consensus_outcome(c: CheckedOutcome, agreed: Consensus | None, weights: Mapping[str, float],
                      ratings: Mapping[str, Mapping[str, float]] | None = None) -> TaskOutcome:  # fmt: skip
    """The settled outcome of a task scored by consensus (``None``: nobody rated it);
    ``ratings`` (validator -> respondent -> rating) are kept for trust, which measures each
    against the median of the other validators' ratings."""
    raters = agreed.agreement if agreed else {}
    return TaskOutcome(
        task_id=c.task_id, domain=c.domain, fee=c.fee, requester=c.requester, coordinator=c.coordinator,
        scores={who: normalize_score(s) for who, s in agreed.scores.items()} if agreed else {},
        validators=tuple(sorted(raters)), receipt_hash=c.receipt_hash, failed=frozenset(c.failed),
        validator_weights={v: weights.get(v, 0.0) for v in raters}, agreement=dict(raters),
        ratings=dict(ratings or {}), targets=dict(agreed.medians) if agreed else {},
    )  # fmt: skip
