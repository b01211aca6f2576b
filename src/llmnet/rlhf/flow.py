"""From one answered question to a ranked conversation on chain (shared by ``llmnet rank`` and the dashboard).

The coordinator answers with every respondent's text and, in its receipt, the hash each respondent
signed; a text that does not hash to its receipt entry is refused. Texts go to the content store,
hashes to the rankings contract with each respondent's model id, version and licence from the
provider registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmnet.chain.ledger import Account
from llmnet.errors import InputError
from llmnet.rlhf.book import MAX_RESPONSES, RankingBook, ResponseEntry
from llmnet.store import ContentStore, content_hash
from llmnet.types import ProviderInfo


@dataclass(frozen=True)
class Candidate:
    """A response to rank: its on-chain entry and its text."""

    entry: ResponseEntry
    text: str


def candidates_from_answer(llmnet: Mapping[str, Any], provider: Callable[[str], ProviderInfo]) -> list[Candidate]:
    """The distinct answers of a coordinator's ``llmnet`` block, checked against its receipt."""
    answers: Mapping[str, str] = llmnet.get("answers") or {}
    found: list[Candidate] = []
    for r in llmnet["receipt"]["respondents"]:
        text = answers.get(r["address"])
        if text is None or not r.get("response_hash"):
            continue
        if content_hash(text.encode()) != r["response_hash"]:
            raise InputError(f"the text given for {r['address']} does not hash to the response it signed")
        if any(c.entry.content_hash == r["response_hash"] for c in found):
            continue  # identical answers rank equally: keep one
        profile = provider(r["address"]).profile
        entry = ResponseEntry(r["response_hash"], r["address"], profile.model_id, profile.model_version,
                              profile.licence)  # fmt: skip
        found.append(Candidate(entry, text))
    return found[:MAX_RESPONSES]


def post_candidates(
    book: RankingBook, store: ContentStore, prompt: str, domain: str, found: Sequence[Candidate], sender: Account
) -> tuple[int, str]:
    """Store the texts, post the conversation; returns its id and the transaction hash."""
    if len(found) < 2:
        raise InputError(
            f"only {len(found)} distinct answer(s) came back; ranking needs at least two "
            "(ask for more respondents with --n, or a domain with more providers)"
        )
    prompt_hash = store.put(prompt, kind="prompt")
    for c in found:
        store.put(c.text, kind="response")
    cid, receipt = book.post_conversation(prompt_hash, domain, [c.entry for c in found], sender)
    return cid, receipt.tx_hash


def parse_order(text: str, n: int) -> list[int]:
    """A ranking typed by a person: response numbers (1-based) best first, e.g. ``"2 1 3"`` -> ``[1, 0, 2]``."""
    parts = [p for p in re.split(r"[\s,>]+", text.strip()) if p]
    if not all(p.isdigit() for p in parts):
        raise InputError(f"ranking {text!r} must be response numbers separated by spaces, best first, e.g. '2 1'")
    ranks = [int(p) - 1 for p in parts]
    if sorted(ranks) != list(range(n)):
        raise InputError(f"ranking {text!r} must name each of the responses 1..{n} exactly once, best first")
    return ranks
