"""Ranking on a whole network (a real SmolLM2 respondent and a scripted one): `llmnet rank`, the ranking
feeding reputation through the settler, `llmnet dataset export`, and the dashboard in headless Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import datasets
import httpx
import pytest
from openai import OpenAI
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from llmnet.api.keys import KeyBook
from llmnet.chain.network import dev_account
from llmnet.launcher import REQUESTER_DEV, Network, RespondentPlan
from llmnet.rlhf.book import RankingBook
from tests.integration.networks import running_network
from tests.integration.wallet import fake_wallet

pytestmark = pytest.mark.integration

RESPONDENTS = (
    RespondentPlan("smollm2", ("general", "law")),
    RespondentPlan("echo", ("general",), backend="fake", options={"model_id": "fake-echo"}, licence="MIT", version="1"),
)
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    with running_network(tmp_path_factory.mktemp("rlhf"), RESPONDENTS, judge="fake", k=2, rounds=0, max_tokens=16,
                         gold_rate=0.0) as network:  # fmt: skip
        yield network


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def llmnet(net: Network, *args: str) -> str:
    rpc = str(net.ledger.w3.provider.endpoint_uri)  # type: ignore[union-attr]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMNET_")}
    command = [sys.executable, "-m", "llmnet.cli.main", *args, "--rpc-url", rpc, "--data-dir", str(net.root.parent)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def settler_health(net: Network) -> dict[str, Any]:
    validator = next(s for s in net.services if s.role == "validator" and s.name.endswith("-1"))
    return httpx.get(f"{validator.url}/health").json()


def test_rank_from_the_cli_feeds_reputation_and_exports(net: Network, tmp_path: Path) -> None:
    book = RankingBook(net.ledger)
    out = llmnet(net, "rank", "Name a primary colour.", "--model", "llmnet/general", "--n", "2", "--order", "2 1",
                 "--url", net.base_url,
                 "--key", net.api_key)  # fmt: skip
    assert "ranked conversation 0" in out
    (conversation,) = [book.conversation(i) for i in range(book.conversation_count())]
    (ranking,) = book.rankings(0)
    assert ranking.ranker == dev_account(REQUESTER_DEV).address and ranking.ranks == (1, 0)
    assert len({r.respondent for r in conversation.responses}) == 2
    assert "fake-echo" in {r.model_id for r in conversation.responses}

    # one more task, so that a settlement batch follows the ranking; the settler folds the ranking into it
    client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=120, max_retries=0)
    client.chat.completions.create(model="llmnet/general", messages=[{"role": "user", "content": "Say hi."}])
    wait_for("the ranking in a settlement", lambda: (settler_health(net)["human_rankings"] or {}).get("submitted"))
    tasks = wait_for("every task settled", lambda: _all_settled(net))
    for r in conversation.responses:  # each task gave both respondents one observation; the ranking one more
        assert net.ledger.reputation(r.respondent, "general").count == tasks + 1

    target = tmp_path / "prefs.jsonl"
    printed = llmnet(net, "dataset", "export", "--format", "dpo-jsonl", "-o", str(target))
    assert "1 rankings of 1 conversations" in printed and "wrote 1 pairs" in printed
    (row,) = datasets.load_dataset("json", data_files=str(target), split="train")
    assert row["prompt"] == "Name a primary colour."
    assert row["chosen_respondent"] == conversation.responses[1].respondent
    assert (row["contract"], row["chain_id"]) == (book.address, net.ledger.chain_id)
    licences = {row["chosen_licence"], row["rejected_licence"]}
    assert licences == {"MIT", "Apache-2.0"}
    only_mit = llmnet(
        net, "dataset", "export", "--format", "json", "-o", str(tmp_path / "mit.json"), "--licence", "MIT"
    )
    assert "wrote 0 rows" in only_mit  # one MIT response is left: nothing to compare it with


def _all_settled(net: Network) -> int | None:
    counts = httpx.get(net.base_url.removesuffix("/v1") + "/health").json()["tasks"]
    return sum(counts.values()) if set(counts) <= {"settled"} else None


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--window-size=1280,1900"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def requester_wallet() -> Iterator[str]:
    """The demo requester's wallet in the browser: it signs the rankings the dashboard relays."""
    with fake_wallet(dev_account(REQUESTER_DEV)) as provider:
        yield provider


def test_dashboard_asks_ranks_and_the_ranking_is_on_chain(
    net: Network, browser: webdriver.Chrome, requester_wallet: str, tmp_path: Path
) -> None:
    book = RankingBook(net.ledger)
    before = book.conversation_count()
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": requester_wallet})
    wait = WebDriverWait(browser, 120)
    browser.get(net.base_url.removesuffix("/v1") + "/ui")
    browser.find_element(By.ID, "api-key").send_keys(net.api_key)
    browser.find_element(By.ID, "prompt").send_keys("What colour is the sky?")
    browser.find_element(By.ID, "model").clear()
    browser.find_element(By.ID, "model").send_keys("llmnet/general")
    Select(browser.find_element(By.ID, "k")).select_by_visible_text("2")
    browser.find_element(By.ID, "ask-button").click()
    wait.until(ec.visibility_of_element_located((By.ID, "rank-panel")))
    cards = browser.find_elements(By.CSS_SELECTOR, "#answers .card")
    assert len(cards) == 2 and len(browser.find_elements(By.CSS_SELECTOR, "#answers .card.chosen")) == 1
    assert browser.find_element(By.ID, "stream").text.strip()
    items = browser.find_elements(By.CSS_SELECTOR, "#rank-list li")
    first, second = (i.get_attribute("data-respondent") for i in items)
    items[0].find_element(By.CSS_SELECTOR, "button.down").click()  # the second answer is better
    browser.find_element(By.ID, "submit-ranking").click()
    result = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#rank-result.ok")))
    cid = int(str(result.get_attribute("data-conversation")))
    assert cid == before

    (ranking,) = book.rankings(cid)
    responses = book.conversation(cid).responses
    assert [responses[i].respondent for i in ranking.ranks] == [second, first]
    assert ranking.ranker == dev_account(REQUESTER_DEV).address
    assert ranking.ranker in result.text

    Select(browser.find_element(By.ID, "dataset-format")).select_by_value("json")
    download = httpx.get(str(browser.find_element(By.ID, "dataset-link").get_attribute("href")), timeout=60)
    assert download.status_code == 200 and "rankings.json" in download.headers["content-disposition"]
    mine = [o for o in download.json() if o["conversationId"] == cid]
    assert [o["rankedBy"] for o in mine] == [ranking.ranker]
    assert mine[0]["prompt"] == "What colour is the sky?"

    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#provider-table tbody tr"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#provider-table tbody tr")) == 2
    browser.find_element(By.CSS_SELECTOR, "[data-refresh='reputation']").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart polyline.series"))
    wait.until(lambda d: "Rankings" in d.find_element(By.ID, "tx-table").text)
    wait_for("a settled task to prove", lambda: _click_prove(browser))
    proof = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#proof.ok")))
    assert "verified on chain" in proof.text
    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000


def _click_prove(browser: webdriver.Chrome) -> bool:
    """Refresh the ledger and click the first task's "prove"; False (try again) while no task is
    settled, or when a refresh still in flight redraws the table under the click."""
    browser.find_element(By.CSS_SELECTOR, "[data-refresh='ledger']").click()
    time.sleep(0.5)
    try:
        buttons = browser.find_elements(By.CSS_SELECTOR, "#task-table button")
        if not buttons:
            return False
        buttons[0].click()
    except StaleElementReferenceException:
        return False
    return True


def test_dashboard_refuses_writes_without_a_key(net: Network) -> None:
    base = net.base_url.removesuffix("/v1")
    resp = httpx.post(f"{base}/ui/api/conversations/0/ranking", json={"ranks": [0, 1]})
    assert resp.status_code == 401
    bad = httpx.post(f"{base}/ui/api/conversations/0/ranking", json={"ranks": [0, 0]},
                     headers={"Authorization": f"Bearer {net.api_key}"})  # fmt: skip
    assert bad.status_code == 400 and "not a permutation" in json.dumps(bad.json())
    client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=120, max_retries=0)
    answered = client.chat.completions.create(model="llmnet/general", messages=[{"role": "user", "content": "Hi?"}])
    task = (answered.model_extra or {})["llmnet"]["task_id"]
    other = KeyBook(net.root / "state" / "keys.sqlite").create("other", dev_account(3).address)
    theirs = httpx.post(f"{base}/ui/api/conversations", json={"task_id": task, "prompt": "p", "answers": {}},
                        headers={"Authorization": f"Bearer {other}"})  # fmt: skip
    assert theirs.status_code == 404 and "of yours" in theirs.json()["error"]["message"]
    page = httpx.get(f"{base}/ui")
    assert page.status_code == 200 and "http" not in page.text.replace("http://www.w3.org", "")


def test_rank_sampled_answers_of_one_respondent(net: Network) -> None:
    """`--samples`: one respondent per request at temperature 0.8 with seeds 1..n (only SmolLM2 serves law)."""
    book = RankingBook(net.ledger)
    llmnet(net, "rank", "Name a famous court.", "--model", "llmnet/law", "--n", "2", "--samples", "--order", "1 2",
           "--url", net.base_url, "--key", net.api_key)  # fmt: skip
    conversation = book.conversation(book.conversation_count() - 1)
    assert conversation.domain == "law"
    assert len({r.respondent for r in conversation.responses}) == 1
    assert len({r.content_hash for r in conversation.responses}) == 2
    assert conversation.responses[0].model_id != "fake-echo"
