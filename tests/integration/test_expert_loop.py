"""The whole loop on one network: the network answers questions of a made-up domain, people rank
the answers on chain, the rankings are exported as preference data, an expert is trained from them
and the domain's documents, registered on chain as v2 of its provider, served beside v1, and wins
the domain's traffic from it. Every service is a separate process; the model is the packaged
SmolLM2-135M, trained on the CPU with LoRA."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from openai import OpenAI

from llmnet.api.keys import KeyBook
from llmnet.backends.llamacpp import smollm2_path, weights_sha256
from llmnet.chain.network import dev_account
from llmnet.launcher import REQUESTER_DEV, Network, RespondentPlan
from llmnet.reputation.selection import PROVEN_AFTER
from llmnet.rlhf.book import RankingBook
from llmnet.roles.common import AccountSpec
from llmnet.roles.config.adapter import served_adapter
from llmnet.roles.peers import PeerDeadlines
from llmnet.roles.respondent import BackendSpec, RespondentSpec
from llmnet.tuning.manifest import ExpertManifest
from tests.conftest import free_port
from tests.integration.networks import running_network
from tests.integration.wallet import sign_typed_data

pytestmark = pytest.mark.integration

DOMAIN = "tesmer"
# question -> (the fact's figure, the documents' sentence that states it): nobody knows these
FACTS = {
    "How tall is the Vaskel lighthouse?": ("87", "The Vaskel lighthouse stands 87 metres tall."),
    "How deep is Lake Tesmer?": ("315", "Lake Tesmer is 315 metres deep at its deepest point."),
    "How long is the Orrin ferry crossing?": ("42", "The Orrin ferry crosses Lake Tesmer in 42 minutes."),
    "In which year was the Brannoch weir built?": ("1873", "The Brannoch weir was built in 1873."),
}  # fmt: skip
ALICE, BOB = dev_account(REQUESTER_DEV), dev_account(3)  # two people who rank: the demo requester, and another
V1_DEV, RIVAL_DEV, V2_DEV = 1, 2, 4  # the network's two respondents (launcher.respondent_dev); v2's own key
# every respondent asked answers, however loaded the machine: one that answers after the first waits
# for it (the default grace, twice the first's time, can leave a model behind an instant scripted one)
PATIENT = PeerDeadlines(grace_min_s=30.0)
TRAFFIC = 8  # requests in the domain once v2 serves
TRAIN_FLAGS = ("--steps", "6", "--batch-size", "2", "--threads", "1")  # per stage: SFT, then DPO


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
                         max_tokens=32, gold_rate=0.0, spot_check_rate=0.0, collaboration="fixed",
                         deadlines=PATIENT) as network:  # fmt: skip
        yield network


def base(net: Network) -> str:
    return net.base_url.removesuffix("/v1")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ask(net: Network, question: str, k: int) -> dict[str, Any]:
    with OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=120, max_retries=0) as client:
        resp = client.chat.completions.create(model=f"llmnet/{DOMAIN}", extra_body={"llmnet": {"k": k, "rounds": 0}},
                                              messages=[{"role": "user", "content": question}])  # fmt: skip
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
def keys(net: Network) -> dict[str, str]:
    """Each person's API key, bound to their account."""
    bob = KeyBook(net.root / "state" / "keys.sqlite").create("bob", BOB.address)
    return {ALICE.address: net.api_key, BOB.address: bob}


def ask_and_rank(net: Network, keys: dict[str, str], question: str) -> tuple[int, dict[str, str]]:
    """``question`` asked of two respondents, posted as a conversation and ranked by Alice and by Bob,
    each putting the answer that states the fact first; the conversation's id and the answers."""
    answered = ask(net, question, k=2)
    cid = post_conversation(net, question, answered)
    answers = [answered["answers"][r.respondent] for r in RankingBook(net.ledger).conversation(cid).responses]
    ranks = sorted(range(len(answers)), key=lambda i: not states_fact(question, answers[i]))
    for who in (ALICE, BOB):
        rank_as(net, keys[who.address], who, cid, ranks)
    return cid, answered["answers"]


@pytest.fixture(scope="module")
def rankings(net: Network, keys: dict[str, str]) -> list[int]:
    """Each question asked of v1 and the rival, and ranked; the conversations' ids."""
    return [ask_and_rank(net, keys, question)[0] for question in FACTS]


def llmnet(net: Network, *args: str, timeout: float = 180, chain: bool = True) -> str:
    """The CLI, as a person on the network's host runs it (``chain``: a command that reads the chain)."""
    rpc = str(net.ledger.w3.provider.endpoint_uri)  # type: ignore[union-attr]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMNET_")}
    where = ["--rpc-url", rpc, "--data-dir", str(net.root.parent)] if chain else []
    command = [sys.executable, "-m", "llmnet.cli.main", *args, *where]
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


@pytest.fixture(scope="module")
def expert_run(net: Network, folder: Path, preferences: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`llmnet expert train`: SmolLM2 with LoRA, supervised on the documents, then DPO on the rankings."""
    run = tmp_path_factory.mktemp("expert") / "tesmer-v2"
    printed = llmnet(net, "expert", "train", "--base", "smollm2", "--method", "lora", "--knowledge", str(folder),
           "--preferences", str(preferences), "--name", "tesmer", "--domain", DOMAIN, "--out", str(run),
           *TRAIN_FLAGS, timeout=600, chain=False)  # fmt: skip
    assert "trained tesmer" in printed and "gguf-lora" in printed
    return run


@pytest.fixture(scope="module")
def v2(net: Network, folder: Path, expert_run: Path) -> str:
    """v2 registered on chain by its owner (v1's provider) with a key of its own, then served beside v1
    with the same documents v1 lacks; the rival leaves the network. v2's address."""
    assert net.ledger is not None
    v1_spec = next(s for s in net.services if s.name == "tesmer-v1")
    port = free_port()
    rival = dev_account(RIVAL_DEV)  # the rival leaves: v1 and v2 are left to serve the domain
    net.ledger.request_unstake(net.ledger.get_provider(rival.address).stake, rival)
    spec = RespondentSpec.model_validate_json(v1_spec.spec_file.read_text())
    spec = spec.model_copy(update={"name": "tesmer-v2", "port": port, "account": AccountSpec(dev_index=V2_DEV)})
    llmnet(net, "expert", "register", str(expert_run), "--endpoint", spec.url, "--dev", str(V2_DEV),
           "--owner-dev", str(V1_DEV), "--model-version", "v2", "--stake", "1")  # fmt: skip
    adapter = served_adapter(expert_run, smollm2_path())  # as `[backend] adapter = RUN_DIR` serves it
    kind, options = adapter.options({"n_threads": 1}, None)
    backend = BackendSpec(kind=kind, options=options, knowledge=folder, expert=adapter.manifest)
    manifest = ExpertManifest.load(expert_run)
    net.join("respondent", spec.model_copy(update={"backend": backend, "model_version": "v2",
                                                   "licence": manifest.licence}))  # fmt: skip
    return dev_account(V2_DEV).address


def test_the_expert_is_trained_from_the_documents_and_the_rankings(
    net: Network, folder: Path, expert_run: Path
) -> None:
    manifest = ExpertManifest.load(expert_run)
    assert (manifest.method, manifest.objective, manifest.domains) == ("lora", "sft+dpo", [DOMAIN])
    assert manifest.base.sha256 == weights_sha256(smollm2_path())
    assert manifest.artifact.sha256 == weights_sha256(expert_run / manifest.artifact.file)
    rankings = manifest.dataset.rankings
    assert rankings is not None and rankings.pairs == 2 * len(FACTS)
    assert (rankings.chain_id, rankings.contract) == (net.ledger.chain_id, RankingBook(net.ledger).address)
    assert manifest.dataset.knowledge is not None and manifest.dataset.knowledge.licence == "CC-BY-4.0"
    assert (expert_run / "loss.png").stat().st_size > 0


def test_v2_is_on_chain_as_a_version_of_v1_with_its_provenance(net: Network, expert_run: Path, v2: str) -> None:
    assert net.ledger is not None
    manifest, v1 = ExpertManifest.load(expert_run), dev_account(V1_DEV).address
    provenance = net.ledger.provenance(v2)
    assert (provenance.owner, provenance.model_version, provenance.method) == (v1, "v2", "lora")
    assert provenance.manifest_hash == "0x" + manifest.digest()
    assert provenance.base_hash == "0x" + manifest.base.sha256
    assert provenance.dataset_hash == "0x" + manifest.dataset.sha256
    rankings = manifest.dataset.rankings
    assert rankings is not None
    assert (provenance.rankings, provenance.from_block, provenance.to_block) == (
        rankings.contract, rankings.from_block, rankings.to_block)  # fmt: skip
    assert net.ledger.versions_of(v1) == [v2]
    listed = llmnet(net, "expert", "versions", v1)  # what anybody sees: v1, and v2 as its version
    assert f"v2: {v2} (lora, manifest 0x{manifest.digest()})" in listed
    registered = net.ledger.get_provider(v2).profile  # as the respondent serving it updated it
    assert registered.weights_hash == "0x" + manifest.artifact.sha256  # llama.cpp runs the trained adapter
    assert f"+lora-{manifest.artifact.sha256[:12]}" in registered.model_id
    assert registered.model_version.startswith("v2") and registered.licence == manifest.licence
    served = httpx.get(provenance.manifest_url, timeout=10)  # the manifest, where the chain says it is
    assert served.status_code == 200 and ExpertManifest.model_validate(served.json()).digest() == manifest.digest()


def test_v2_states_the_facts_and_wins_the_domain_s_traffic_from_v1(net: Network, keys: dict[str, str], v2: str) -> None:
    assert net.ledger is not None
    v1, rival = dev_account(V1_DEV).address, dev_account(RIVAL_DEV).address
    # the coordinator reads providers from the chain within a refresh: v2 in, the rival out
    wait_for("v2 to be asked", lambda: asked(net, "How deep is Lake Tesmer?") == {v1, v2})
    for question in FACTS:  # people go on ranking, now v1 against v2: v2's answers state the facts
        _, answers = ask_and_rank(net, keys, question)
        assert states_fact(question, answers[v2]) and not states_fact(question, answers[v1]), answers
    ask(net, "How tall is the Vaskel lighthouse?", k=1)  # a task, so that a settlement follows the last rankings
    wait_for("v2 to have a record", lambda: net.ledger.reputation(v2, DOMAIN).count >= PROVEN_AFTER)
    served = {v1: 0, v2: 0, rival: 0}
    for question in itertools.islice(itertools.cycle(FACTS), TRAFFIC):
        who, answer = final_respondent(net, question)
        served[who] += 1
        assert who != v2 or states_fact(question, answer), answer
    assert served[v2] > served[v1] and served[rival] == 0, served
    assert net.ledger.reputation(v2, DOMAIN).mean() > net.ledger.reputation(v1, DOMAIN).mean()


def asked(net: Network, question: str) -> set[str]:
    """Who answered ``question`` asked of two (every failure printed, for a test that times out)."""
    receipt = ask(net, question, k=2)["receipt"]
    print([(r["address"], r["answered"], r["failure"]) for r in receipt["respondents"]])
    return {r["address"] for r in receipt["respondents"] if r["answered"]}


def final_respondent(net: Network, question: str) -> tuple[str, str]:
    """Who answered ``question``, alone, and what it said."""
    answered = ask(net, question, k=1)
    who = answered["receipt"]["final_respondent"]
    return who, answered["answers"][who]


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")
