"""Each person ranks as themselves, on a whole network: two accounts rank one conversation through the
dashboard (their wallets sign, the coordinator relays), both rankings are on chain as theirs and in
the exports; an export on another host fetches the texts from the coordinator; the dashboard
serves the dataset."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import datasets
import httpx
import pytest
from eth_account.signers.local import LocalAccount
from openai import OpenAI

from llmnet.api.keys import KeyBook
from llmnet.chain.network import dev_account
from llmnet.launcher import REQUESTER_DEV, Network, RespondentPlan
from llmnet.rlhf.book import RankingBook
from llmnet.store import content_hash
from tests.integration.networks import running_network
from tests.integration.wallet import sign_typed_data

pytestmark = pytest.mark.integration

QUESTION = "Why is the sky blue?"
ALICE, BOB = dev_account(REQUESTER_DEV), dev_account(3)  # the demo requester, and someone else


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    folder = tmp_path_factory.mktemp("rank-as-themselves")
    book = folder / "oracle.jsonl"
    book.write_text(json.dumps({"question": QUESTION, "domain": "general", "reference": "Rayleigh scattering."}) + "\n")
    respondents = (
        RespondentPlan(
            "oracle", ("general",), backend="oracle", options={"references": str(book), "model_id": "oracle"}
        ),
        RespondentPlan("echo", ("general",), backend="fake", options={"model_id": "fake-echo"}, licence="MIT"),
    )
    with running_network(folder / "net", respondents, judge="fake", k=2, rounds=0, max_tokens=16, gold_rate=0.0,
                         collaboration="fixed") as network:  # fmt: skip
        yield network


@pytest.fixture(scope="module")
def keys(net: Network) -> dict[str, str]:
    """Each person's API key, bound to their account."""
    return {
        ALICE.address: net.api_key,
        BOB.address: KeyBook(net.root / "state" / "keys.sqlite").create("bob", BOB.address),
    }


def base(net: Network) -> str:
    return net.base_url.removesuffix("/v1")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ask(net: Network, question: str) -> dict[str, Any]:
    client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=120, max_retries=0)
    resp = client.chat.completions.create(model="llmnet/general", messages=[{"role": "user", "content": question}],
                                          extra_body={"llmnet": {"k": 2, "rounds": 0}})  # fmt: skip
    llmnet: dict[str, Any] = (resp.model_extra or {})["llmnet"]
    return llmnet


def rank_as(net: Network, key: str, who: LocalAccount, cid: int, ranks: list[int]) -> httpx.Response:
    """What the dashboard page does: ask what to sign, have the wallet sign it, send it to be relayed."""
    url = f"{base(net)}/ui/api/conversations/{cid}"
    request = httpx.post(f"{url}/ranking-request", json={"ranks": ranks}, headers=bearer(key), timeout=60).json()
    assert request["ranker"] == who.address
    body = {"ranks": ranks, "nonce": request["nonce"], "signature": sign_typed_data(who, request["typed_data"])}
    return httpx.post(f"{url}/ranking", json=body, headers=bearer(key), timeout=60)


@pytest.fixture(scope="module")
def conversation(net: Network, keys: dict[str, str]) -> int:
    """A conversation the demo requester posted from the dashboard, ranked by Alice and by Bob."""
    llmnet = ask(net, QUESTION)
    body = {"task_id": llmnet["task_id"], "prompt": QUESTION, "answers": llmnet["answers"]}
    posted = httpx.post(f"{base(net)}/ui/api/conversations", json=body, headers=bearer(net.api_key), timeout=60)
    assert posted.status_code == 200, posted.text
    cid = int(posted.json()["conversation_id"])
    for who, ranks in ((ALICE, [0, 1]), (BOB, [1, 0])):
        done = rank_as(net, keys[who.address], who, cid, ranks)
        assert done.status_code == 200, done.text
    return cid


def test_two_people_rank_one_conversation_and_both_count(net: Network, keys: dict[str, str], conversation: int) -> None:
    book, cid = RankingBook(net.ledger), conversation
    assert [(r.ranker, r.ranks) for r in book.rankings(cid)] == [(ALICE.address, (0, 1)), (BOB.address, (1, 0))]
    (bob_event,) = [e for e in book.events() if e.conversation_id == cid and e.ranker == BOB.address]
    sent = net.ledger.w3.eth.get_transaction(bob_event.tx_hash)  # type: ignore[arg-type]
    assert sent["from"] == ALICE.address != BOB.address  # the coordinator's relayer paid; the chain says Bob ranked

    replaced = rank_as(net, keys[BOB.address], BOB, cid, [0, 1])  # Bob changes his mind: only his ranking moves
    assert replaced.status_code == 200 and replaced.json()["ranking"]["revisions"] == 1
    assert [(r.ranker, r.ranks, r.revisions) for r in book.rankings(cid)] == [(ALICE.address, (0, 1), 0),
                                                                             (BOB.address, (0, 1), 1)]  # fmt: skip
    back = rank_as(net, keys[BOB.address], BOB, cid, [1, 0])
    assert back.status_code == 200


def test_nobody_ranks_with_someone_else_s_key_or_an_old_signature(
    net: Network, keys: dict[str, str], conversation: int
) -> None:
    url = f"{base(net)}/ui/api/conversations/{conversation}"
    request = httpx.post(f"{url}/ranking-request", json={"ranks": [0, 1]}, headers=bearer(keys[BOB.address])).json()
    body = {"ranks": [0, 1], "nonce": request["nonce"], "signature": sign_typed_data(BOB, request["typed_data"])}
    theirs = httpx.post(f"{url}/ranking", json=body, headers=bearer(keys[ALICE.address]), timeout=60)
    assert theirs.status_code == 403
    assert f"signed by {BOB.address} but this API key belongs to {ALICE.address}" in theirs.text
    stale = body | {"nonce": request["nonce"] - 1}
    old = request["typed_data"] | {"message": request["typed_data"]["message"] | {"nonce": stale["nonce"]}}
    stale["signature"] = sign_typed_data(BOB, old)
    refused = httpx.post(f"{url}/ranking", json=stale, headers=bearer(keys[BOB.address]), timeout=60)
    assert refused.status_code == 400 and "nonce" in refused.text
    unsigned = httpx.post(f"{url}/ranking", json={"ranks": [0, 1]}, headers=bearer(keys[BOB.address]), timeout=60)
    assert unsigned.status_code == 400 and "ranking-request" in unsigned.text
    assert RankingBook(net.ledger).ranking(conversation, BOB.address).ranks == (1, 0)


def host(net: Network, folder: Path) -> Path:
    """Another host's data directory: it knows the chain's deployment and nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(net.root.parent / "deployments.json", folder / "deployments.json")
    return folder


def llmnet(net: Network, data_dir: Path, *args: str) -> str:
    rpc = str(net.ledger.w3.provider.endpoint_uri)  # type: ignore[union-attr]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMNET_")}
    command = [sys.executable, "-m", "llmnet.cli.main", *args, "--rpc-url", rpc, "--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_export_on_another_host_fetches_the_texts(net: Network, conversation: int, tmp_path: Path) -> None:
    ranker = host(net, tmp_path / "ranker")  # `llmnet rank` from a host of its own uploads its texts
    llmnet(net, ranker, "rank", "Name a primary colour.", "--model", "llmnet/general", "--n", "2", "--order", "2 1",
           "--url", net.base_url, "--key", net.api_key)  # fmt: skip
    other = host(net, tmp_path / "other")
    alone = llmnet(net, other, "dataset", "export", "-o", str(tmp_path / "none.jsonl"))
    assert "left out" in alone and f"conversation {conversation}: 2 ranking(s) left out" in alone
    assert "--texts-from" in alone and "wrote 0 pairs" in alone

    fetched = llmnet(net, other, "dataset", "export", "-o", str(tmp_path / "prefs.jsonl"), "--texts-from", base(net))
    assert "left out" not in fetched
    rows = list(datasets.load_dataset("json", data_files=str(tmp_path / "prefs.jsonl"), split="train"))
    ours = [r for r in rows if r["conversation_id"] == conversation]
    assert {(r["ranker"], r["chosen_respondent"] != r["rejected_respondent"]) for r in ours} == {
        (ALICE.address, True), (BOB.address, True)}  # fmt: skip
    assert {r["prompt"] for r in rows} >= {QUESTION, "Name a primary colour."}
    offline = llmnet(net, other, "dataset", "export", "-o", str(tmp_path / "again.jsonl"))  # the texts were kept
    assert "left out" not in offline


def test_the_coordinator_serves_texts_of_conversations_on_chain_only(net: Network, conversation: int) -> None:
    prompt_hash = RankingBook(net.ledger).conversation(conversation).prompt_hash
    served = httpx.get(f"{base(net)}/ui/api/texts/{prompt_hash}")
    assert served.status_code == 200 and served.text == QUESTION
    stranger = content_hash(b"not in any conversation")
    assert httpx.get(f"{base(net)}/ui/api/texts/{stranger}").status_code == 404
    upload = httpx.put(f"{base(net)}/ui/api/texts", json={"texts": ["not in any conversation"]},
                       headers=bearer(net.api_key))  # fmt: skip
    assert upload.status_code == 200 and upload.json() == {"stored": [], "refused": [stranger]}
    assert httpx.put(f"{base(net)}/ui/api/texts", json={"texts": ["x"]}).status_code == 401


def test_the_dashboard_downloads_the_dataset(net: Network, conversation: int, tmp_path: Path) -> None:
    url = f"{base(net)}/ui/api/dataset"
    jsonl = httpx.get(url, params={"format": "dpo-jsonl"}, timeout=60)
    assert jsonl.status_code == 200 and jsonl.headers["x-llmnet-left-out"] == "0"
    rows = [json.loads(line) for line in jsonl.text.splitlines()]
    assert {r["ranker"] for r in rows if r["conversation_id"] == conversation} == {ALICE.address, BOB.address}
    assert int(jsonl.headers["x-llmnet-rows"]) == len(rows)
    tsv = httpx.get(url, params={"format": "tsv", "permissive": "true"}, timeout=60)
    assert tsv.text.splitlines()[0].startswith("Conversation ID\tPrompt\tFirst Ranked Response")
    archive = httpx.get(url, params={"format": "hf"}, timeout=120)
    assert archive.headers["content-type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(archive.content)).extractall(tmp_path / "hf")
    assert datasets.load_from_disk(str(tmp_path / "hf")).num_rows == len(rows)
    assert httpx.get(url, params={"format": "parquet"}).status_code == 400


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_settler_counts_each_person_s_ranking(net: Network, conversation: int) -> None:
    validator = next(s for s in net.services if s.role == "validator" and s.name.endswith("-1"))
    firsts = {(e.conversation_id, e.ranker) for e in RankingBook(net.ledger).events() if not e.revised}
    assert {(conversation, ALICE.address), (conversation, BOB.address)} <= firsts
    ask(net, "Say hi.")  # a task, so that a settlement batch follows the rankings

    def submitted() -> bool:
        states = httpx.get(f"{validator.url}/health").json()["human_rankings"] or {}
        return int(states.get("submitted", 0)) == len(firsts)  # every person's first ranking, Bob's too

    wait_for("every ranking in a settlement", submitted, timeout=180)


def test_without_a_browser_wallet_the_cli_signs_and_the_dashboard_relays(
    net: Network, conversation: int, tmp_path: Path
) -> None:
    url = f"{base(net)}/ui/api/conversations/{conversation}"
    request = httpx.post(f"{url}/ranking-request", json={"ranks": [1, 0]}, headers=bearer(net.api_key)).json()
    printed = llmnet(net, host(net, tmp_path / "alice"), "rank", "--conversation", str(conversation), "--order",
                     "2 1", "--sign-only", "--url", net.base_url)  # fmt: skip
    signature = printed.strip().splitlines()[-1]
    body = {"ranks": [1, 0], "nonce": request["nonce"], "signature": signature}
    done = httpx.post(f"{url}/ranking", json=body, headers=bearer(net.api_key), timeout=60)
    assert done.status_code == 200, done.text
    assert RankingBook(net.ledger).ranking(conversation, ALICE.address).ranks == (1, 0)
