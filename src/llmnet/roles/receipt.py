"""The receipt a requester gets with its answer: what happened, who is paid what, and the hashes
that tie it to the chain (its own hash is committed in a settlement batch's Merkle root)."""

from __future__ import annotations

from typing import Any

from llmnet.reputation.consensus import normalize_score
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, split_fee
from llmnet.roles.coordinator import TaskRun
from llmnet.store import canonical_json, content_hash
from llmnet.types import ZERO_HASH


def fee_split(run: TaskRun, fee: int, coordinator: str) -> dict[str, int]:
    """Who gets what of the fee: the same rule, on the same scores, that settlement applies."""
    outcome = TaskOutcome(
        task_id=0, domain=run.domain, fee=fee, requester=run.requester, coordinator=coordinator,
        scores={who: normalize_score(s) for who, s in run.scores.items()},
        validators=tuple(sorted({r["message"]["validator"] for r in run.ratings})),
        receipt_hash=ZERO_HASH, failed=frozenset(run.failed), validator_weights=run.validator_weights,
    )  # fmt: skip
    return split_fee(outcome, FeeSplit())


def receipt_of(run: TaskRun, fee: int, chain_id: int, coordinator: str = "") -> dict[str, Any]:
    """The receipt returned with the answer; its hash is committed on chain at settlement."""
    return {
        "task_key": hex(run.task_key),
        "chain_id": chain_id,
        "domain": run.domain,
        "requester": run.requester,
        "prompt_hash": content_hash(canonical_json([m.model_dump() for m in run.messages])),
        "fee_wei": fee,
        "fee_split_wei": fee_split(run, fee, coordinator or run.requester),
        "rounds": len(run.history) - 1,
        "respondents": [
            {
                "address": c.provider,
                "reputation_mean": round(c.mean, 4),
                "answered": c.provider in run.answers,
                "failure": run.failed.get(c.provider),
                "score": run.scores.get(c.provider),
                "model_id": run.answers[c.provider].reply.response["message"]["model_id"]
                if c.provider in run.answers
                else None,
                "sources": run.answers[c.provider].reply.sources if c.provider in run.answers else [],
                "response_hash": run.answers[c.provider].reply.response["message"]["content_hash"]
                if c.provider in run.answers
                else None,
                "late_in_rounds": run.late.get(c.provider, []),
            }
            for c in run.chosen
        ],
        "validators": sorted({r["message"]["validator"] for r in run.ratings}),
        "unrated_validators": run.unrated_validators,
        "cooling_validators": run.cooling_validators,
        "final_respondent": run.final_respondent,
        "collaboration": {"adaptive": run.adaptive, "trusted_lead": run.trusted_lead, "escalated": run.escalated},
        "respondent_tokens": run.respondent_tokens,
        "answer_hash": content_hash(run.final.encode()),
        "created": int(run.started),
    } | ({"gold": run.gold} if run.gold is not None else {})
