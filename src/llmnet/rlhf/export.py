"""Preference datasets from on-chain rankings: trust-and-teach's TSV and JSON, DPO JSONL, a Hugging Face dataset.

- ``tsv``: trust-and-teach's header ``Conversation ID, Prompt, First Ranked Response, Second Ranked
  Response`` (tab-separated), one row per (conversation, ranking account), then any further ranked
  responses and the provenance columns.
- ``json``: an array of trust-and-teach's objects ``{conversationId, prompt, usersWhoSubmittedRanks,
  firstRankedResponse, secondRankedResponse, actions}`` (``actions``: the account's submissions and
  revisions on chain), with ``rankedBy``, ``rankedResponses`` and ``provenance`` added.
- ``dpo-jsonl``: one line per ordered pair of each ranking, ``{prompt, chosen, rejected}`` as TRL's
  DPO trainer reads them, with the pair's provenance alongside.
- ``hf``: the DPO rows as a ``datasets.Dataset`` saved with ``save_to_disk``.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from llmnet.errors import InputError
from llmnet.rlhf.records import RankedRecord

ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth", "Tenth",
            "Eleventh", "Twelfth", "Thirteenth", "Fourteenth", "Fifteenth", "Sixteenth")  # fmt: skip
TSV_PROVENANCE = ("Ranked By", "Domain", "Models", "Versions", "Licences", "Respondents", "Chain ID", "Contract",
                  "Transaction Hash", "Ranked At")  # fmt: skip


def provenance(r: RankedRecord) -> dict[str, Any]:
    """Where a ranking came from, responses listed best first."""
    return {
        "models": [e.model_id for e in r.ranked], "versions": [e.model_version for e in r.ranked],
        "licences": [e.licence for e in r.ranked], "respondents": [e.respondent for e in r.ranked],
        "response_hashes": [e.content_hash for e in r.ranked], "chain_id": r.chain_id, "contract": r.contract,
        "transaction_hash": r.tx_hash, "ranked_at": r.ranked_at,
    }  # fmt: skip


def tsv_header(width: int) -> list[str]:
    ranked = [f"{ORDINALS[k]} Ranked Response" for k in range(max(width, 2))]
    return ["Conversation ID", "Prompt", *ranked, *TSV_PROVENANCE]


def tsv_row(r: RankedRecord, width: int) -> list[str]:
    p = provenance(r)
    texts = list(r.texts) + [""] * (max(width, 2) - len(r.texts))
    joined = [";".join(p[k]) for k in ("models", "versions", "licences", "respondents")]
    return [str(r.conversation_id), r.prompt, *texts, r.ranker, r.domain, *joined, str(r.chain_id), r.contract,
            r.tx_hash, str(r.ranked_at)]  # fmt: skip


def write_tsv(records: Sequence[RankedRecord], path: Path) -> int:
    width = max((len(r.texts) for r in records), default=2)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, delimiter="\t", lineterminator="\n")
        out.writerow(tsv_header(width))
        out.writerows(tsv_row(r, width) for r in records)
    return len(records)


def json_object(r: RankedRecord) -> dict[str, Any]:
    actions = [{"type": "revise" if e.revised else "submit", "ranker": e.ranker, "ranks": list(e.ranks),
                "transactionHash": e.tx_hash, "blockNumber": e.block_number} for e in r.history]  # fmt: skip
    return {
        "conversationId": r.conversation_id, "prompt": r.prompt, "usersWhoSubmittedRanks": list(r.rankers),
        "firstRankedResponse": r.texts[0], "secondRankedResponse": r.texts[1], "actions": actions,
        "rankedBy": r.ranker, "rankedResponses": list(r.texts), "domain": r.domain, "provenance": provenance(r),
    }  # fmt: skip


def write_json(records: Sequence[RankedRecord], path: Path) -> int:
    path.write_text(json.dumps([json_object(r) for r in records], indent=1, ensure_ascii=False) + "\n")
    return len(records)


def dpo_pairs(r: RankedRecord) -> list[dict[str, Any]]:
    """Every ordered pair of a ranking: the better response chosen, the worse rejected."""
    rows = []
    for i, j in itertools.combinations(range(len(r.ranked)), 2):
        better, worse = r.ranked[i], r.ranked[j]
        rows.append({
            "prompt": r.prompt, "chosen": r.texts[i], "rejected": r.texts[j],
            "conversation_id": r.conversation_id, "domain": r.domain, "ranker": r.ranker,
            "chosen_rank": i, "rejected_rank": j,
            "chosen_respondent": better.respondent, "rejected_respondent": worse.respondent,
            "chosen_model": better.model_id, "rejected_model": worse.model_id,
            "chosen_model_version": better.model_version, "rejected_model_version": worse.model_version,
            "chosen_licence": better.licence, "rejected_licence": worse.licence,
            "chain_id": r.chain_id, "contract": r.contract, "transaction_hash": r.tx_hash, "ranked_at": r.ranked_at,
            "block_number": r.block_number,
        })  # fmt: skip
    return rows


def write_dpo_jsonl(records: Sequence[RankedRecord], path: Path) -> int:
    rows = [row for r in records for row in dpo_pairs(r)]
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def write_hf(records: Sequence[RankedRecord], path: Path) -> int:
    import datasets  # heavy: only for this format

    rows = [row for r in records for row in dpo_pairs(r)]
    if not rows:
        raise InputError("no ranked pairs to export: a Hugging Face dataset cannot be empty")
    datasets.Dataset.from_list(rows).save_to_disk(str(path))
    return len(rows)


WRITERS: dict[str, Callable[[Sequence[RankedRecord], Path], int]] = {
    "tsv": write_tsv, "json": write_json, "dpo-jsonl": write_dpo_jsonl, "hf": write_hf,
}  # fmt: skip


def export(records: Sequence[RankedRecord], fmt: str, path: Path) -> int:
    """Write ``records`` as ``fmt`` to ``path``; returns the rows (pairs for dpo-jsonl and hf) written."""
    if fmt not in WRITERS:
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(WRITERS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return WRITERS[fmt](records, path)
