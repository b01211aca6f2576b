"""The research team on a real network: a SmolLM2 respondent run by llama.cpp behind a real
coordinator on the embedded chain. SmolLM2-135M is weak, so the test checks the structure of the
run (calls, receipts, fees, the report's form), not the wisdom of the report."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from llmnet.agents import Budget, RunStore
from llmnet.agents.runner import start_run
from llmnet.agents.teams import TeamConfig
from llmnet.errors import BudgetExceeded
from llmnet.launcher import RespondentPlan
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

TOPIC = "how batteries store solar energy"


def test_the_research_team_runs_on_real_models_through_a_real_coordinator(tmp_path: Path) -> None:
    respondents = (RespondentPlan("general", ("general",)),)
    with running_network(tmp_path / "net", respondents, validators=1, rate=False, judge="fake", k=1, rounds=0,
                         max_tokens=32, gold_rate=0.0, spot_check_rate=0.0) as net:  # fmt: skip
        config = TeamConfig(team="research", inputs=[TOPIC], base_urls=[net.base_url], max_passages=2,
                            max_tokens=32, report_path=tmp_path / "report.md",
                            fee_per_respondent_wei=net.options.fee_per_respondent_wei)  # fmt: skip
        store = RunStore(tmp_path / "runs.sqlite")
        outcome = start_run(config, net.api_key, store)
        calls = store.calls(outcome.run_id)
        history = store.messages(outcome.run_id)
        key = {"Authorization": f"Bearer {net.api_key}"}
        tasks = [httpx.get(f"{net.base_url.removesuffix('/v1')}/tasks/{c.task_id}", headers=key, timeout=10).json()
                 for c in calls]  # fmt: skip
        # the budget, against real receipts: room for one call's fee, not two
        fee = net.options.fee_per_respondent_wei
        tight = config.model_copy(update={"budget": Budget(wei=fee + fee // 2)})
        with pytest.raises(BudgetExceeded, match=f"before SummarizePassage: {fee} of"):
            start_run(tight, net.api_key, store, run_id="tight")
        stopped = store.calls("tight")
    assert [c.action for c in stopped] == ["ExtractKeywords"] and store.run("tight").status == "stopped"
    report = (tmp_path / "report.md").read_text()
    print(report)
    assert outcome.status == "finished"
    notes = [m for m in history if m.cause_by == "SummarizePassage"]
    relevant = [m for m in notes if m.data["relevant"]]
    assert len(notes) == 2
    # keywords, two passages, and the report unless every passage was judged irrelevant
    assert [c.action for c in calls] == ["ExtractKeywords", "SummarizePassage", "SummarizePassage"] + (
        ["WriteReport"] if relevant else [])  # fmt: skip
    for call in calls:  # every call is a task of the network, paid and answered by the SmolLM2 respondent
        assert call.task_id and call.fee_wei == net.options.fee_per_respondent_wei
        assert call.prompt_tokens > 0 and 0 < call.completion_tokens <= (64 if call.action == "WriteReport" else 32)
        assert len(call.respondents) == 1
    for call, task in zip(calls, tasks, strict=True):  # the coordinator keeps each call as a task in its books
        assert task["receipt"]["fee_wei"] == call.fee_wei and task["receipt"]["domain"] == "general"
    assert outcome.total_wei == sum(c.fee_wei for c in calls)
    keywords = next(m for m in history if m.cause_by == "ExtractKeywords").data["keywords"]
    assert 1 <= len(keywords) <= 2
    assert report.startswith(f"# {TOPIC}\n")
    if relevant:
        assert "## Sources" in report and "[1] `" in report
