"""No static lists, on a whole network of separate processes with scripted backends and judges:
the coordinator asks every validator in good standing in the validator book, so a validator that
joins while requests flow is asked to rate within one directory refresh and one that unstakes is
no longer asked, and a respondent likewise; respondents and validators take work only from
coordinators registered on chain, and outcomes reach the settler the escrow lists."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from openai import OpenAI

from llmnet.chain.network import dev_account
from llmnet.errors import ChainError
from llmnet.launcher import Network, RespondentPlan, respondent_dev, validator_dev
from llmnet.roles.common import AccountSpec, signing_domain
from llmnet.roles.directory import REFRESH_S
from llmnet.roles.protocol import Message, RatedAnswer, RateRequest, RespondPayload, RespondRequest
from llmnet.roles.respondent import RespondentSpec
from llmnet.roles.validator import ValidatorSpec
from llmnet.signing import RatingAssignment, Response, TaskAssignment, sign
from llmnet.store import content_hash
from llmnet.types import ETHER
from tests.conftest import free_port
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

FAKE = {"model_id": "fake-echo"}
RESPONDENTS = (
    RespondentPlan("fake-a", ("general",), backend="fake", options=FAKE),
    RespondentPlan("fake-b", ("general",), backend="fake", options=FAKE),
)
FIRST, SECOND = dev_account(validator_dev(0)).address, dev_account(validator_dev(1)).address
NEWCOMER, STRANGER, RESPONDENT = dev_account(12), dev_account(13), dev_account(respondent_dev(0))
# one refresh, plus time for the requests in flight: a generous upper bound, not a measurement
WITHIN_S = REFRESH_S + 30


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    with running_network(tmp_path_factory.mktemp("discovery"), RESPONDENTS, judge="fake", k=2, rounds=0,
                         max_tokens=16, gold_rate=0.0, spot_check_rate=0.0) as network:  # fmt: skip
        yield network


def ask(net: Network) -> dict[str, Any]:
    client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=60, max_retries=0)
    done = client.chat.completions.create(model="llmnet/general", messages=[{"role": "user", "content": "Hi?"}])
    llmnet: dict[str, Any] = (done.model_extra or {})["llmnet"]
    return llmnet


def receipts_until(net: Network, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Ask until an answer's receipt is as ``wanted``; fail after WITHIN_S."""
    deadline = time.monotonic() + WITHIN_S
    while True:
        receipt: dict[str, Any] = ask(net)["receipt"]
        if wanted(receipt):
            return receipt
        assert time.monotonic() < deadline, f"receipt still {receipt} after {WITHIN_S:.0f} s"
        time.sleep(0.2)


def asked(receipt: dict[str, Any]) -> set[str]:
    """The validators a task asked to rate: those that did, those that did not in time, those cooling down."""
    return {*receipt["validators"], *receipt["unrated_validators"], *receipt["cooling_validators"]}


def url_of(net: Network, name: str) -> str:
    return next(s.url for s in net.services if s.name == name)


def unstake_all(net: Network, who: LocalAccount) -> None:
    """Request unstake of the whole stake; the validator's own process sends transactions from the
    same account (its commitments), so a nonce it just took is retried."""
    assert net.ledger is not None
    for attempt in range(3):
        try:
            net.ledger.request_validator_unstake(net.ledger.get_validator(who.address).stake, who)
            return
        except ChainError:
            net.ledger.tx.forget_nonce(who.address)
            if attempt == 2:
                raise


def newcomer_spec(net: Network) -> ValidatorSpec:
    """A validator like the second one, on its own port and account: nothing names it anywhere."""
    second = next(s for s in net.services if s.name == "validator-2")
    base = ValidatorSpec.model_validate_json(second.spec_file.read_text())
    return base.model_copy(update={"name": "validator-new", "port": free_port(), "account": AccountSpec(dev_index=12),
                                   "settler": False})  # fmt: skip


def test_a_validator_that_joins_is_asked_within_a_refresh_and_one_that_unstakes_is_not(net: Network) -> None:
    assert asked(receipts_until(net, lambda r: bool(r["validators"]))) == {FIRST, SECOND}
    net.join("validator", newcomer_spec(net))  # healthy once it has staked in the validator book
    receipts_until(net, lambda r: NEWCOMER.address in r["validators"])  # it rated
    unstake_all(net, NEWCOMER)
    receipts_until(net, lambda r: NEWCOMER.address not in asked(r))
    for _ in range(3):  # and it stays out
        assert NEWCOMER.address not in asked(ask(net)["receipt"])


def test_outcomes_reach_the_settler_the_escrow_lists(net: Network) -> None:
    coordinator = next(s for s in net.services if s.role == "coordinator")
    spec = json.loads(coordinator.spec_file.read_text())
    assert spec["settler_url"] is None and spec["validators"] == []  # nothing names them: the chain does
    task_id = ask(net)["task_id"]
    deadline = time.monotonic() + 60
    headers = {"Authorization": f"Bearer {net.api_key}"}
    while (task := httpx.get(f"{net.base_url.removesuffix('/v1')}/tasks/{task_id}", headers=headers).json())[
        "state"
    ] != "settled":
        assert time.monotonic() < deadline, f"task {task_id} not settled: {task}"
        time.sleep(0.3)


def respond_request(net: Network, signer: LocalAccount) -> RespondRequest:
    payload = RespondPayload(messages=[Message(role="user", content="Capital of France?")], max_tokens=8)
    a = TaskAssignment(task_id=77, coordinator=signer.address, respondent=RESPONDENT.address,
                       content_hash=payload.digest(), round=0, deadline=int(time.time() + 60))  # fmt: skip
    assert net.ledger is not None
    return RespondRequest(assignment=sign(a, signer, signing_domain(net.ledger)).to_dict(), payload=payload)


def rate_request(net: Network, signer: LocalAccount) -> RateRequest:
    assert net.ledger is not None
    domain = signing_domain(net.ledger)
    response = Response(task_id=78, respondent=RESPONDENT.address, content_hash=content_hash(b"Paris."),
                        model_id="fake-echo", weights_hash="0x" + "00" * 32, round=0, prompt_tokens=1,
                        completion_tokens=1)  # fmt: skip
    signed = sign(response, RESPONDENT, domain).to_dict()
    answer = RatedAnswer(respondent=RESPONDENT.address, text="Paris.", response=signed)
    req = RateRequest(task_id=78, question="Capital of France?", answers=[answer])
    a = RatingAssignment(task_id=78, coordinator=signer.address, validator=FIRST, content_hash=req.digest(), round=0,
                         deadline=int(time.time() + 60))  # fmt: skip
    return req.model_copy(update={"assignment": sign(a, signer, domain).to_dict()})


def test_a_coordinator_not_on_chain_is_refused_until_it_registers(net: Network) -> None:
    respondent = f"{url_of(net, 'fake-a')}/v1/respond"
    validator = f"{url_of(net, 'validator-1')}/v1/rate"
    work = {respondent: respond_request(net, STRANGER), validator: rate_request(net, STRANGER)}
    for url, req in work.items():
        resp = httpx.post(url, json=req.model_dump(mode="json"), timeout=30)
        assert resp.status_code == 403, resp.text
        message = resp.json()["error"]["message"]
        assert f"signed by {STRANGER.address}, which is not a coordinator in good standing on chain" in message
    assert net.ledger is not None
    net.ledger.register_coordinator("http://127.0.0.1:1", ETHER, STRANGER)  # anyone may run one, with a stake
    deadline = time.monotonic() + WITHIN_S
    for url, req in work.items():  # the same requests, refused before anything was remembered
        while (resp := httpx.post(url, json=req.model_dump(mode="json"), timeout=30)).status_code == 403:
            assert time.monotonic() < deadline, resp.text
            time.sleep(0.2)
        assert resp.status_code == 200, resp.text


def test_a_respondent_that_joins_gets_work_within_a_refresh_and_one_that_unstakes_does_not(net: Network) -> None:
    second = next(s for s in net.services if s.name == "fake-b")
    base = RespondentSpec.model_validate_json(second.spec_file.read_text())
    joiner = dev_account(14)
    net.join("respondent", base.model_copy(update={"name": "fake-new", "port": free_port(),
                                                   "account": AccountSpec(dev_index=14)}))  # fmt: skip

    def chosen(receipt: dict[str, Any]) -> set[str]:
        return {r["address"] for r in receipt["respondents"]}

    receipts_until(net, lambda r: joiner.address in chosen(r))
    assert net.ledger is not None
    net.ledger.request_unstake(net.ledger.get_provider(joiner.address).stake, joiner)
    # chosen at random (2 of 3), so out only once eight answers in a row left it out
    deadline, streak = time.monotonic() + WITHIN_S, 0
    while streak < 8:
        streak = streak + 1 if joiner.address not in chosen(ask(net)["receipt"]) else 0
        assert time.monotonic() < deadline, f"{joiner.address} still chosen {WITHIN_S:.0f} s after it unstaked"
