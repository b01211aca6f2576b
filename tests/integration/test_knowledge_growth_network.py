"""An expert's knowledge folder grows while it serves: a document added to it is answered from, the
respondent serves the new corpus by its hash, and its registry entry's model_version names the new
corpus on chain. Every service is a separate process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from llmnet.config import load_settings
from llmnet.experts.corpus import corpus_hash_of
from llmnet.launcher import Network, NetworkOptions, RespondentPlan
from tests.conftest import free_port, free_run

pytestmark = pytest.mark.integration

CALDERA = "# The Ostrava caldera\n\nThe Ostrava caldera is 14 km wide; its magma chamber lies 6 km deep.\n"
VENTS = "# Mount Keld\n\nMount Keld's vents emit 35 tonnes of sulphur a day between eruptions.\n"
WAIT_S = 60.0  # generous: a check every 2 s, then one registry update


def ask(net: Network, question: str) -> str:
    client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=60, max_retries=0)
    messages: Any = [{"role": "user", "content": question}]
    resp = client.chat.completions.create(model="llmnet/volcanology", messages=messages)
    return str(resp.choices[0].message.content)


def registered_version(net: Network, address: str) -> str:
    assert net.ledger is not None
    return net.ledger.get_provider(address).profile.model_version


def test_a_document_added_to_a_served_expert_is_answered_and_recorded_on_chain(tmp_path: Path) -> None:
    folder = tmp_path / "volcanology"
    folder.mkdir()
    (folder / "calderas.md").write_text(CALDERA, encoding="utf-8")
    first = corpus_hash_of(folder)
    expert = RespondentPlan("volcano-expert", ("volcanology",), str(folder), backend="fake",
                            options={"model_id": "fake-volcano"}, version="v1")  # fmt: skip
    settings = load_settings(data_dir=tmp_path / "net", chain_port=free_port(), domains=("general", "volcanology"))
    plan = NetworkOptions(coordinator_port=free_port(), respondent_base_port=free_run(1),
                          validator_base_port=free_run(1), respondents=(expert,), validators=1, judge="fake",
                          k=1, rounds=0, max_tokens=64, gold_rate=0.0)  # fmt: skip
    net = Network(settings, plan)
    net.start(timeout=120)
    try:
        url = net.services[[s.name for s in net.services].index("volcano-expert")].url
        address = httpx.get(f"{url}/health", timeout=10).json()["address"]
        assert registered_version(net, address) == f"v1+kb.{first[2:10]}"
        assert "35 tonnes" not in ask(net, "How much sulphur do Mount Keld's vents emit?")
        (folder / "vents.md").write_text(VENTS, encoding="utf-8")
        grown = corpus_hash_of(folder)
        deadline = time.monotonic() + WAIT_S
        while registered_version(net, address) != f"v1+kb.{grown[2:10]}" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert registered_version(net, address) == f"v1+kb.{grown[2:10]}"
        assert httpx.get(f"{url}/health", timeout=10).json()["corpus"] == grown
        assert "35 tonnes of sulphur" in ask(net, "How much sulphur do Mount Keld's vents emit?")
        assert httpx.get(f"{url}/v1/corpus/{first}", timeout=10).status_code == 200  # a card may still name it
    finally:
        net.stop()
