"""A team run killed with SIGKILL mid-run (a real `llmnet team run` process) resumes with
`llmnet team resume` and repeats no finished action: every call is counted at the endpoint."""

from __future__ import annotations

import collections
import subprocess
import sys
from pathlib import Path

import pytest

from llmnet.agents import RunStore
from tests.fake_coordinator import FakeCoordinator, prompt_of, serve_fake_coordinator
from tests.unit.agents_script import research_reply

pytestmark = pytest.mark.integration

TOPIC = "how batteries help solar power"


def llmnet(*args: str) -> list[str]:
    return [sys.executable, "-m", "llmnet.cli.main", *args]


def test_a_run_killed_mid_run_resumes_without_repeating_a_finished_action(tmp_path: Path) -> None:
    fake = FakeCoordinator(research_reply, hold_at=4)  # keywords and two summaries finish; the third is in flight
    data = tmp_path / "data"
    with serve_fake_coordinator(fake) as url:
        common = ("--url", url, "--key", "sk-test", "--data-dir", str(data))
        run = subprocess.Popen(
            llmnet("team", "run", "research", TOPIC, "--out", str(tmp_path / "report.md"), "--budget", "0.001ether",
                   *common),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            assert fake.held.wait(60), "the run never reached its fourth call"
        finally:
            run.kill()  # SIGKILL: no handler, no cleanup
            output = run.communicate()[0].decode()
        assert run.returncode == -9, output
        store = RunStore(data / "agents" / "runs.sqlite")
        (record,) = store.runs()
        assert record.status == "running"  # it never got to say otherwise
        saved = store.messages(record.run_id)
        assert collections.Counter(m.cause_by for m in saved) == {
            "UserRequirement": 1, "ExtractKeywords": 1, "CollectPassages": 4, "SummarizePassage": 2}  # fmt: skip
        assert len(store.calls(record.run_id)) == 3
        fake.release.set()
        resumed = subprocess.run(llmnet("team", "resume", record.run_id, *common), capture_output=True, text=True,
                                 timeout=120)  # fmt: skip
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    asked = [prompt_of(r["messages"]) for r in fake.requests]
    counts = collections.Counter(asked)
    assert len(asked) == 7  # 6 calls, and the one in flight at the kill asked again
    assert [counts[p] for p in asked[:3]] == [1, 1, 1]  # the finished calls were not repeated
    assert counts[asked[3]] == 2 and asked[4] == asked[3]  # the interrupted one was, first thing
    assert all(counts[p] == 1 for p in asked[5:])
    report = (tmp_path / "report.md").read_text()
    assert report.startswith(f"# {TOPIC}\n") and "## Sources" in report
    assert store.run(record.run_id).status == "finished" and len(store.calls(record.run_id)) == 6
    assert f"finished: report written to {tmp_path / 'report.md'}".replace(" ", "") in resumed.stdout.replace(
        " ", "").replace("\n", "")  # fmt: skip
