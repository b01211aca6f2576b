"""End to end with real models: llama.cpp respondents (an expert with a knowledge folder and a
general base model) on the embedded chain, rated against a reference, settled on chain."""

from __future__ import annotations

import time

import httpx
import pytest
from openai import OpenAI

from llmnet.launcher import RespondentPlan
from llmnet.types import TaskStatus
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

RESPONDENTS = (
    RespondentPlan("astronomy-expert", ("astronomy",), "astronomy"),
    RespondentPlan(
        "general-gemma",
        ("general", "astronomy"),
        options={"model": "gemma3-270m", "mode": "completion", "n_threads": 1},
        licence="Gemma",
        version="Gemma-3-270M base Q4_K_M",
    ),
)


def test_real_models_answer_get_rated_and_settle_on_chain(tmp_path_factory: pytest.TempPathFactory) -> None:
    with running_network(tmp_path_factory.mktemp("llm-net"), RESPONDENTS, timeout=180, judge="reference", k=2,
                         rounds=0, max_tokens=32, collaboration="fixed") as net:  # fmt: skip
        client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=120, max_retries=0)
        resp = client.chat.completions.create(
            model="llmnet/auto",
            messages=[{"role": "user", "content": "Which is the largest planet in the solar system?"}],
        )
        answer = resp.choices[0].message.content or ""
        llmnet = resp.model_extra["llmnet"]  # type: ignore[index]
        receipt = llmnet["receipt"]
        print(f"answer: {answer!r}; respondents: {receipt['respondents']}")
        assert receipt["domain"] == "astronomy"  # detected by the classifier
        by_model = {r["model_id"]: r for r in receipt["respondents"]}
        expert = by_model["expert:SmolLM2-135M-Instruct.Q4_1+astronomy"]
        assert expert["answered"] and any(s.startswith("outer_planets.md") for s in expert["sources"])
        assert by_model["gemma-3-270m-q4_k_m:completion"]["answered"]
        final = next(r for r in receipt["respondents"] if r["address"] == receipt["final_respondent"])
        assert final["score"] == max(r["score"] for r in receipt["respondents"])
        assert "jupiter" in answer.lower()
        deadline, task = time.monotonic() + 60, {}
        while time.monotonic() < deadline:
            key = {"Authorization": f"Bearer {net.api_key}"}
            task = httpx.get(f"{net.base_url.removesuffix('/v1')}/tasks/{llmnet['task_id']}", headers=key).json()
            if task["state"] == "settled":
                break
            time.sleep(0.5)
        assert task["state"] == "settled", task
        assert net.ledger is not None
        assert net.ledger.get_task(task["chain_task_id"]).status == TaskStatus.SETTLED
        for r in receipt["respondents"]:
            assert net.ledger.reputation(r["address"], "astronomy").count == 1
        weights = {p.profile.model_id: p.profile.weights_hash for p in net.ledger.providers()}
        assert weights["gemma-3-270m-q4_k_m:completion"] != weights["expert:SmolLM2-135M-Instruct.Q4_1+astronomy"]
