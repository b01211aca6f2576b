"""One hung validator does not stall the network: a real network (fake backends and judges, three
validators) where one validator process is SIGSTOPped. A request costs at most the configured
rating deadline, its receipt names the silent validator, later requests skip it while it cools
down, and once it is SIGCONTed it rates again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from llmnet.chain.network import dev_account
from llmnet.launcher import Network, RespondentPlan, validator_dev
from llmnet.roles.peers import PeerDeadlines
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

FAKE = {"model_id": "fake-echo"}
RESPONDENTS = tuple(RespondentPlan(f"fake-{i}", ("general",), backend="fake", options=FAKE) for i in range(3))
LIMITS = PeerDeadlines(rating_timeout_s=10, grace_min_s=0.5, grace_factor=1.0, cooldown_s=5, cooldown_max_s=10)
MARGIN_S = 2.0
HUNG = "validator-3"  # not the settler (validator-1)
HUNG_ADDRESS = dev_account(validator_dev(2)).address


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    with running_network(tmp_path_factory.mktemp("net"), RESPONDENTS, validators=3, judge="fake", k=3, rounds=0,
                         gold_rate=0.0, deadlines=LIMITS) as network:  # fmt: skip
        yield network


def ask(net: Network, i: int) -> tuple[dict[str, Any], float]:
    """One request: its receipt and how long it took (seconds). The client gives up well after the
    deadline, so a coordinator that waited for the hung validator fails here rather than hanging."""
    client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=LIMITS.rating_timeout_s * 3, max_retries=0)
    t0 = time.monotonic()
    resp = client.chat.completions.create(model="llmnet/general", messages=[{"role": "user", "content": f"hi {i}"}])
    return resp.model_extra["llmnet"]["receipt"], time.monotonic() - t0  # type: ignore[index]


def test_a_sigstopped_validator_costs_at_most_the_deadline_is_named_cooled_down_and_rates_again(net: Network) -> None:
    healthy, _ = ask(net, 0)
    assert HUNG_ADDRESS in healthy["validators"] and len(healthy["validators"]) == 3
    pid = net.processes[HUNG].pid
    os.kill(pid, signal.SIGSTOP)
    try:
        stalled, took = ask(net, 1)
        assert took <= LIMITS.rating_timeout_s + MARGIN_S
        assert stalled["unrated_validators"] == [HUNG_ADDRESS] and HUNG_ADDRESS not in stalled["validators"]
        assert len(stalled["validators"]) == 2  # the answer came with the ratings that arrived
        skipped, took = ask(net, 2)  # within its cool-down: not asked at all
        assert skipped["cooling_validators"] == [HUNG_ADDRESS] and skipped["unrated_validators"] == []
        assert took <= LIMITS.rating_timeout_s + MARGIN_S
    finally:
        os.kill(pid, signal.SIGCONT)
    assert rates_again(net), f"{HUNG} never rated again after SIGCONT"


def rates_again(net: Network) -> bool:
    """After its cool-down, one request probes the validator; once it answers it is asked by all."""
    deadline = time.monotonic() + 4 * LIMITS.cooldown_max_s
    i = 10
    while time.monotonic() < deadline:
        receipt, took = ask(net, i)
        assert took <= LIMITS.rating_timeout_s + MARGIN_S
        if HUNG_ADDRESS in receipt["validators"]:
            return True
        time.sleep(0.5)
        i += 1
    return False
