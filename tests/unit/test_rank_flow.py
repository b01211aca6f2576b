"""Turning a coordinator's answer into ranking candidates, and reading a typed ranking."""

from __future__ import annotations

from typing import Any

import pytest

from llmnet.errors import InputError
from llmnet.rlhf.flow import candidates_from_answer, parse_order
from llmnet.store import content_hash
from llmnet.types import ProviderInfo, ProviderProfile

A, B, C = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40


def provider(address: str) -> ProviderInfo:
    profile = ProviderProfile(endpoint="http://127.0.0.1:1", domains=("general",), model_id=f"m-{address[2]}",
                              weights_hash="0x" + "ab" * 32, model_version="v1", licence="MIT")  # fmt: skip
    return ProviderInfo(address, profile, 0, 0, 0, 0)


def block(answers: dict[str, str], hashes: dict[str, str] | None = None) -> dict[str, Any]:
    hashes = hashes or {who: content_hash(t.encode()) for who, t in answers.items()}
    rows = [{"address": who, "response_hash": h} for who, h in hashes.items()]
    return {"receipt": {"respondents": [*rows, {"address": C, "response_hash": None}]}, "answers": answers}


def test_candidates_carry_the_registry_provenance_and_skip_failed_and_identical_answers() -> None:
    found = candidates_from_answer(block({A: "Rayleigh scattering.", B: "Rayleigh scattering."}), provider)
    assert [(c.entry.respondent, c.entry.model_id, c.entry.model_version, c.entry.licence) for c in found] == [
        (A, "m-a", "v1", "MIT")
    ]
    two = candidates_from_answer(block({A: "one", B: "two"}), provider)
    assert [c.text for c in two] == ["one", "two"]
    assert two[1].entry.content_hash == content_hash(b"two")


def test_a_text_that_is_not_what_the_respondent_signed_is_refused() -> None:
    forged = block({A: "one", B: "changed"}, {A: content_hash(b"one"), B: content_hash(b"two")})
    with pytest.raises(InputError, match="does not hash to the response it signed"):
        candidates_from_answer(forged, provider)


def test_parse_order_reads_one_based_numbers_best_first() -> None:
    assert parse_order("2 1 3", 3) == [1, 0, 2]
    assert parse_order("3>1>2", 3) == [2, 0, 1]
    assert parse_order(" 2, 1 ", 2) == [1, 0]
    for bad in ("1 1 2", "1 2", "0 1 2", "a b c", "1 2 4"):
        with pytest.raises(InputError, match="ranking"):
            parse_order(bad, 3)
