"""Validators with the grounded judge on a live network: each holds the documents of the domains
the experts serve, is told each question's domain, and rates a right answer high and a wrong one
low without any reference answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmnet.launcher import Network, RespondentPlan
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

QUESTION = "What is the normal human body temperature in degrees Celsius?"


def oracle(folder: Path, name: str, answer: str) -> RespondentPlan:
    """A scripted respondent that always gives ``answer`` to QUESTION."""
    book = folder / f"{name}.jsonl"
    book.write_text(json.dumps({"question": QUESTION, "domain": "medicine", "reference": answer}) + "\n")
    return RespondentPlan(name, ("medicine",), backend="oracle", options={"references": str(book), "model_id": name})


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    folder = tmp_path_factory.mktemp("grounded")
    respondents = (
        oracle(folder, "right", "It is about 37 °C."),
        oracle(folder, "wrong", "It is about 39.5 °C."),
        # an expert with the medicine folder: what the validators' corpora are taken from
        RespondentPlan("medicine-expert", ("medicine",), "medicine", backend="fake", options={"model_id": "fake"}),
    )
    # fixed collaboration: every respondent answers, so both a right and a wrong answer are rated
    with running_network(folder / "net", respondents, judge="grounded", k=3, rounds=0, max_tokens=32,
                         gold_rate=0.0, collaboration="fixed") as network:  # fmt: skip
        yield network


def test_validators_rate_by_the_domain_s_documents(net: Network) -> None:
    body = {"model": "llmnet/medicine", "messages": [{"role": "user", "content": QUESTION}]}
    resp = httpx.post(f"{net.base_url}/chat/completions", json=body, timeout=120,
                      headers={"Authorization": f"Bearer {net.api_key}"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    receipt = resp.json()["llmnet"]["receipt"]
    assert len(receipt["validators"]) == 2  # the grounded judge runs no model: every answer goes to both
    scores = {r["model_id"]: r["score"] for r in receipt["respondents"] if r["answered"]}
    assert scores["right"] >= 8.0 and scores["wrong"] <= 3.0, receipt["respondents"]
    assert resp.json()["choices"][0]["message"]["content"].strip() == "It is about 37 °C."
    assert net.ledger is not None
    assert {v.judge_model_id for v in net.ledger.validators()} == {"judge-grounded"}
