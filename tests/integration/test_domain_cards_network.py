"""A domain that exists only on chain: its documents are on no coordinator's disk, only with its
expert, and its card names them. The coordinator fetches the corpus from the expert's endpoint
and ``llmnet/auto`` routes the domain's questions there. Every service is a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from llmnet.chain.network import dev_account
from llmnet.config import load_settings
from llmnet.data import KNOWLEDGE_ROOT
from llmnet.experts.corpus import corpus_hash_of, parse_packed, verify
from llmnet.launcher import Network, NetworkOptions, RespondentPlan
from llmnet.types import DomainCard
from tests.conftest import free_port, free_run

pytestmark = pytest.mark.integration

DOCUMENTS = {
    "calderas.md": "# The Ostrava caldera\n\nThe Ostrava caldera is 14 km wide; its magma chamber lies 6 km deep.\n",
    "vents.md": "# Mount Keld\n\nMount Keld's vents emit 35 tonnes of sulphur a day between eruptions.\n",
}


@pytest.fixture(scope="module")
def volcanology(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("published") / "volcanology"
    folder.mkdir()
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    assert not (KNOWLEDGE_ROOT / "volcanology").exists()  # the coordinator's knowledge_root has no such folder
    return folder


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, volcanology: Path) -> Iterator[Network]:
    respondents = (
        RespondentPlan("volcano-expert", ("volcanology",), str(volcanology), backend="fake",
                       options={"model_id": "fake-volcano"}, description="Volcanoes: calderas, vents and eruptions."),
        RespondentPlan("general", ("general", "law"), backend="fake", options={"model_id": "fake-echo"}),
    )  # fmt: skip
    settings = load_settings(data_dir=tmp_path_factory.mktemp("net"), chain_port=free_port(),
                             domains=("general", "law", "volcanology"))  # fmt: skip
    plan = NetworkOptions(coordinator_port=free_port(), respondent_base_port=free_run(2),
                          validator_base_port=free_run(1), respondents=respondents, validators=1, judge="fake",
                          k=1, rounds=0, max_tokens=16, gold_rate=0.0)  # fmt: skip
    network = Network(settings, plan)
    network.start(timeout=120)
    try:
        yield network
    finally:
        network.stop()


def ask(net: Network, question: str) -> dict[str, Any]:
    client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=60, max_retries=0)
    resp = client.chat.completions.create(model="llmnet/auto", messages=[{"role": "user", "content": question}])
    receipt: dict[str, Any] = resp.model_extra["llmnet"]["receipt"]  # type: ignore[index]
    return receipt


def test_the_launcher_publishes_the_experts_corpus_on_the_domains_card(net: Network, volcanology: Path) -> None:
    assert net.ledger is not None
    card = {c.domain: c for c in net.ledger.domain_cards()}["volcanology"]
    expert = next(s for s in net.services if s.name == "volcano-expert")
    assert card.corpus_hash == corpus_hash_of(volcanology)
    assert card.corpus_url == f"{expert.url}/v1/corpus/{card.corpus_hash}"
    assert card.description == "Volcanoes: calderas, vents and eruptions."


def test_the_expert_serves_its_corpus_by_hash_and_nothing_else(net: Network, volcanology: Path) -> None:
    expert = next(s for s in net.services if s.name == "volcano-expert")
    served = httpx.get(f"{expert.url}/v1/corpus/{corpus_hash_of(volcanology)}", timeout=10)
    assert served.status_code == 200
    assert verify(parse_packed(served.content), expected=corpus_hash_of(volcanology))
    assert httpx.get(f"{expert.url}/v1/corpus/0x{'ab' * 32}", timeout=10).status_code == 404
    general = next(s for s in net.services if s.name == "general")
    assert httpx.get(f"{general.url}/v1/corpus/{corpus_hash_of(volcanology)}", timeout=10).status_code == 404


def test_auto_routes_the_chain_only_domain_to_its_expert(net: Network, volcanology: Path) -> None:
    fetched = net.root / "state" / "corpora" / corpus_hash_of(volcanology)[2:]
    assert (fetched / "calderas.md").read_text(encoding="utf-8") == DOCUMENTS["calderas.md"]
    receipt = ask(net, "How wide is the Ostrava caldera?")
    assert receipt["domain"] == "volcanology"
    assert [r["model_id"] for r in receipt["respondents"] if r["answered"]] == ["expert:fake-volcano+volcanology"]
    assert ask(net, "What is the burden of proof in a criminal trial?")["domain"] == "law"  # a local folder
    assert ask(net, "What is 12 times 12?")["domain"] == "general"


def llmnet(net: Network, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {**os.environ, "LLMNET_DATA_DIR": str(net.settings.data_dir), "COLUMNS": "300", **(env or {})}
    base.pop("LLMNET_RPC_URL", None)
    command = [sys.executable, "-m", "llmnet.cli.main", *args, "--port", str(net.settings.chain_port)]
    return subprocess.run(command, capture_output=True, text=True, env=base, timeout=120)


def test_governance_publishes_a_card_from_the_cli_once_its_url_serves_the_corpus(
    net: Network, volcanology: Path
) -> None:  # last: it changes the law card (the coordinator has learnt its domains already)
    assert net.ledger is not None
    services = {s.name: s for s in net.services}
    before = net.ledger.domain_cards()
    corpus = ["--corpus", str(volcanology)]
    wrong = llmnet(net, "domains", "card", "law", *corpus, "--url", services["general"].url)
    assert wrong.returncode == 1 and "answered HTTP 404" in wrong.stderr
    alone = llmnet(net, "domains", "card", "law", *corpus)
    assert alone.returncode == 1 and "--corpus and --url go together" in alone.stderr
    stranger = {"LLMNET_PRIVATE_KEY": "0x" + dev_account(5).key.hex().removeprefix("0x")}
    refused = llmnet(net, "domains", "card", "law", "--description", "x", env=stranger)
    assert refused.returncode == 1 and "only governance may do this" in refused.stderr
    assert net.ledger.domain_cards() == before
    done = llmnet(
        net, "domains", "card", "law", "--description", "Courts.", *corpus, "--url", services["volcano-expert"].url
    )
    assert done.returncode == 0, done.stderr
    law = {c.domain: c for c in net.ledger.domain_cards()}["law"]
    assert law == DomainCard("law", "Courts.", corpus_hash_of(volcanology),
                             f"{services['volcano-expert'].url}/v1/corpus/{corpus_hash_of(volcanology)}")  # fmt: skip
    listed = llmnet(net, "domains", "list")
    assert listed.returncode == 0 and listed.stdout.count(corpus_hash_of(volcanology)) == 4  # 2 cards: hash, URL
