"""The whole loop on one network: the network answers questions of a made-up domain, people rank
the answers on chain, the rankings are exported as preference data, an expert is trained from them
and the domain's documents, registered on chain as v2 of its provider, served beside v1, and wins
the domain's traffic from it. Every service is a separate process; the model is the packaged
SmolLM2-135M, trained on the CPU with LoRA."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from openai import OpenAI

from llmnet.api.keys import KeyBook
from llmnet.chain.network import dev_account
from llmnet.launcher import REQUESTER_DEV, Network, RespondentPlan
from llmnet.rlhf.book import RankingBook
from tests.integration.networks import running_network
from tests.integration.wallet import sign_typed_data

pytestmark = pytest.mark.integration

DOMAIN = "tesmer"
# question -> (the fact's figure, the documents' sentence that states it): nobody knows these
FACTS = {
    "How tall is the Vaskel lighthouse?": ("87", "The Vaskel lighthouse stands 87 metres tall."),
    "How deep is Lake Tesmer?": ("315", "Lake Tesmer is 315 metres deep at its deepest point."),
    "How long does the Orrin ferry take to cross Lake Tesmer?": ("42", "The Orrin ferry crosses Lake Tesmer in 42 minutes."),
    "In which year was the Brannoch weir built?": ("1873", "The Brannoch weir was built in 1873."),
}  # fmt: skip
ALICE, BOB = dev_account(REQUESTER_DEV), dev_account(3)  # two people who rank: the demo requester, and another
V1_DEV, V2_DEV = 1, 4  # v1 is the network's first respondent; v2 gets a key of its own


def states_fact(question: str, answer: str) -> bool:
    """What a person checks: does the answer give the figure the documents state?"""
    return FACTS[question][0] in answer


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The domain's documents: one short page per fact, under a licence that allows training."""
    root = tmp_path_factory.mktemp("knowledge") / DOMAIN
    root.mkdir()
    (root / "LICENCE").write_text("CC-BY-4.0\n", encoding="utf-8")
    for i, (_, sentence) in enumerate(FACTS.values()):
        (root / f"fact-{i}.md").write_text(f"# Lake Tesmer, note {i + 1}\n\n{sentence}\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, folder: Path) -> Iterator[Network]:
    """v1: SmolLM2 serving the domain without its documents; a rival that knows the facts (a scripted
    provider), so the rankings compare two answers. The validators check answers against the documents."""
    work = tmp_path_factory.mktemp("expert-loop")
    references = work / "rival.jsonl"
    lines = [json.dumps({"question": q, "domain": DOMAIN, "reference": s}) for q, (_, s) in FACTS.items()]
    references.write_text("\n".join(lines) + "\n", encoding="utf-8")
    respondents = (
        RespondentPlan("tesmer-v1", (DOMAIN,), version="v1"),
        RespondentPlan("rival", (DOMAIN,), backend="oracle", licence="CC-BY-4.0", version="1",
                       options={"references": str(references), "model_id": "rival"}),
    )  # fmt: skip
    judges = tuple({"corpora": {DOMAIN: folder}} for _ in range(2))
    with running_network(work / "net", respondents, judge="grounded", validator_judges=judges, k=2, rounds=0,
                         max_tokens=32, gold_rate=0.0, spot_check_rate=0.0,
                         collaboration="fixed") as network:  # fmt: skip
        yield network


def base(net: Network) -> str:
    return net.base_url.removesuffix("/v1")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ask(net: Network, question: str, k: int) -> dict[str, Any]:
    client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=120, max_retries=0)
    resp = client.chat.completions.create(model=f"llmnet/{DOMAIN}", messages=[{"role": "user", "content": question}],
                                          extra_body={"llmnet": {"k": k, "rounds": 0}})  # fmt: skip
    llmnet: dict[str, Any] = (resp.model_extra or {})["llmnet"]
    return llmnet


def rank_as(net: Network, key: str, who: LocalAccount, cid: int, ranks: list[int]) -> None:
    """What the dashboard does: ask what to sign, have the person's wallet sign it, send it to be relayed."""
    url = f"{base(net)}/ui/api/conversations/{cid}"
    request = httpx.post(f"{url}/ranking-request", json={"ranks": ranks}, headers=bearer(key), timeout=60).json()
    assert request["ranker"] == who.address
    body = {"ranks": ranks, "nonce": request["nonce"], "signature": sign_typed_data(who, request["typed_data"])}
    done = httpx.post(f"{url}/ranking", json=body, headers=bearer(key), timeout=60)
    assert done.status_code == 200, done.text


def post_conversation(net: Network, question: str, llmnet: dict[str, Any]) -> int:
    body = {"task_id": llmnet["task_id"], "prompt": question, "answers": llmnet["answers"]}
    posted = httpx.post(f"{base(net)}/ui/api/conversations", json=body, headers=bearer(net.api_key), timeout=60)
    assert posted.status_code == 200, posted.text
    return int(posted.json()["conversation_id"])


@pytest.fixture(scope="module")
def rankings(net: Network) -> list[int]:
    """Each question asked of both respondents and ranked by Alice and by Bob, the answer that states
    the fact first; the conversations' ids."""
    keys = {ALICE.address: net.api_key,
            BOB.address: KeyBook(net.root / "state" / "keys.sqlite").create("bob", BOB.address)}  # fmt: skip
    book, ids = RankingBook(net.ledger), []
    for question in FACTS:
        answered = ask(net, question, k=2)
        cid = post_conversation(net, question, answered)
        answers = [answered["answers"][r.respondent] for r in book.conversation(cid).responses]
        ranks = sorted(range(len(answers)), key=lambda i: not states_fact(question, answers[i]))
        for who in (ALICE, BOB):
            rank_as(net, keys[who.address], who, cid, ranks)
        ids.append(cid)
    return ids


def llmnet(net: Network, *args: str, timeout: float = 180) -> str:
    """The CLI, as a person on the network's host runs it."""
    rpc = str(net.ledger.w3.provider.endpoint_uri)  # type: ignore[union-attr]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMNET_")}
    command = [sys.executable, "-m", "llmnet.cli.main", *args, "--rpc-url", rpc, "--data-dir", str(net.root.parent)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def preferences(net: Network, rankings: list[int], tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("export") / "prefs.jsonl"
    printed = llmnet(net, "dataset", "export", "--format", "dpo-jsonl", "-o", str(target))
    assert f"wrote {2 * len(FACTS)} pairs" in printed
    return target


def test_people_prefer_the_answers_that_state_the_facts(net: Network, rankings: list[int], preferences: Path) -> None:
    rows = [json.loads(line) for line in preferences.read_text(encoding="utf-8").splitlines()]
    assert {r["conversation_id"] for r in rows} == set(rankings)
    assert {r["ranker"] for r in rows} == {ALICE.address, BOB.address}
    for row in rows:  # v1 does not know the facts; the rival does, and people put it first
        assert states_fact(row["prompt"], row["chosen"]) and not states_fact(row["prompt"], row["rejected"])
        assert row["chosen_model"] == "rival"
