"""A network whose coordinator asks no validator to rate (k = 1, ``rate=False``, as in the overhead
benchmark): its tasks still settle on chain. With no score there is nothing to pay the respondents
by and no evidence for their reputation, so their share of the fee goes back to the requester."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openai import OpenAI

from llmnet.launcher import Network, RespondentPlan
from llmnet.types import TaskStatus
from tests.integration.networks import running_network
from tests.integration.test_network import quiesce, wait_settled

pytestmark = pytest.mark.integration

FAKE = {"model_id": "fake-echo"}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    respondents = (RespondentPlan("fake-a", ("general",), backend="fake", options=FAKE),)
    with running_network(tmp_path_factory.mktemp("net"), respondents, validators=1, rate=False, judge="fake", k=1,
                         rounds=0, gold_rate=0.0) as network:  # fmt: skip
        yield network


def test_unrated_tasks_settle_refund_the_respondents_share_and_leave_reputation(net: Network) -> None:
    client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=60, max_retries=0)
    answers = [
        client.chat.completions.create(model="llmnet/general", messages=[{"role": "user", "content": f"hello {i}"}])
        for i in range(3)
    ]
    receipts = [a.model_extra["llmnet"]["receipt"] for a in answers]  # type: ignore[index]
    assert all(r["validators"] == [] for r in receipts)
    tasks = [wait_settled(net, a.model_extra["llmnet"]["task_id"]) for a in answers]  # type: ignore[index]
    assert quiesce(net) == 3
    assert net.ledger is not None
    respondent, requester = receipts[0]["respondents"][0]["address"], receipts[0]["requester"]
    for task, receipt in zip(tasks, receipts, strict=True):
        assert net.ledger.get_task(task["chain_task_id"]).status == TaskStatus.SETTLED
        assert receipt["respondents"][0]["score"] is None and respondent not in receipt["fee_split_wei"]
        assert receipt["fee_split_wei"][requester] == receipt["fee_wei"] * 95 // 100  # all but the coordinator's 5 %
    assert net.ledger.reputation(respondent, "general").count == 0
    assert net.ledger.credits_of(respondent) == 0
