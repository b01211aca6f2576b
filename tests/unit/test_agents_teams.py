"""The built-in teams against a scripted OpenAI-compatible endpoint: the research team's report, the
assistant's routing, weak-model fallbacks, the budget stop, a 429 mid-run, and resuming a failed run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmnet.agents import Budget, RetryPolicy, RunStore
from llmnet.agents.runner import RunHooks, resume_run, start_run
from llmnet.agents.teams import TeamConfig, recipe_for
from llmnet.agents.teams.assistant import parse_intent, rule_intent
from llmnet.agents.teams.research import SAMPLE_CORPUS, parse_keywords, parse_summary
from llmnet.errors import BackendUnavailable, BudgetExceeded, InputError, NotFound
from tests.fake_coordinator import FakeCoordinator, prompt_of, serve_fake_coordinator
from tests.unit.agents_script import research_reply

TOPIC = "how batteries help solar power"


@pytest.fixture
def fake() -> FakeCoordinator:
    return FakeCoordinator(research_reply)


@pytest.fixture
def url(fake: FakeCoordinator) -> Iterator[str]:
    with serve_fake_coordinator(fake) as base:
        yield base


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs.sqlite")


def config(url: str, tmp_path: Path, team: str = "research", inputs: list[str] | None = None,
           **extra: object) -> TeamConfig:  # fmt: skip
    return TeamConfig(team=team, inputs=inputs or [TOPIC], base_urls=[url], report_path=tmp_path / "report.md",
                      **extra)  # type: ignore[arg-type]  # fmt: skip


def prompts(fake: FakeCoordinator) -> list[str]:
    return [prompt_of(r["messages"]) for r in fake.answered]


def test_the_research_team_writes_a_report_citing_the_relevant_passages(
    fake: FakeCoordinator, url: str, store: RunStore, tmp_path: Path
) -> None:
    outcome = start_run(config(url, tmp_path, max_passages=3), "sk-test", store)
    report = (tmp_path / "report.md").read_text()
    assert outcome.status == "finished" and outcome.report_path == tmp_path / "report.md"
    assert report.startswith(f"# {TOPIC}\n") and "## Sources" in report
    assert "[1] `batteries.md#" in report  # the scripted writer cites note 1, a batteries passage
    history = store.messages(outcome.run_id)
    keywords = next(m for m in history if m.cause_by == "ExtractKeywords")
    assert keywords.data["keywords"] == ["batteries", "solar"] and not keywords.data["fallback"]
    notes = [m for m in history if m.cause_by == "SummarizePassage"]
    assert len(notes) == 3 and {m.send_to for m in notes} == {frozenset({"Writer"})}
    dropped = [m for m in notes if not m.data["relevant"]]
    assert all(m.content == "Not relevant." for m in dropped)
    assert all(m.data["passage"] not in report for m in dropped)  # irrelevant passages are not cited
    # one call each for the keywords, the three passages and the report; the search makes none
    assert [p.split("\n")[0][:14] for p in prompts(fake)] == ["Topic: how bat"] * 5
    assert outcome.calls == 5 and outcome.total_wei == 5 * 10**13 == sum(c.fee_wei for c in store.calls(outcome.run_id))
    assert outcome.total_tokens == sum(c.prompt_tokens + c.completion_tokens for c in store.calls(outcome.run_id))


def test_weak_model_output_falls_back_to_the_topic_and_the_passage(
    fake: FakeCoordinator, url: str, store: RunStore, tmp_path: Path
) -> None:
    fake.responder = lambda model, messages: ""  # a model that says nothing at all
    outcome = start_run(config(url, tmp_path, max_passages=2), "sk-test", store)
    history = store.messages(outcome.run_id)
    keywords = next(m for m in history if m.cause_by == "ExtractKeywords")
    assert keywords.data == {"topic": TOPIC, "keywords": ["batteries", "help"], "fallback": True}
    notes = [m for m in history if m.cause_by == "SummarizePassage"]
    assert all(m.data["fallback"] and m.data["relevant"] for m in notes)
    report = (tmp_path / "report.md").read_text()
    assert "[1]" in report and "[2]" in report and "## Sources" in report  # the notes, cited


def test_parsers_take_what_a_small_model_says() -> None:
    assert parse_keywords('Sure! ["solar", "storage", "grid"]', "x") == (["solar", "storage"], False)
    assert parse_keywords("solar power, batteries\nmore text", "x") == (["solar power", "batteries"], False)
    assert parse_keywords("[]", "the cost of wind turbines") == (["cost", "wind"], True)
    assert parse_summary("Not relevant.", "A. B.") == (False, "Not relevant.", False)
    assert parse_summary("  ", "First one. Second.") == (True, "First one.", True)
    assert parse_intent("Intent: article.", "hi") == ("article", "model")
    assert parse_intent("I think so", "please write an article about tides") == ("article", "rules")
    assert [rule_intent(t) for t in ("summarize our conversation", "let's move on to the next step", "hello")] == [
        "analysis", "phase", "reply"]  # fmt: skip


def test_the_assistant_routes_each_turn_to_the_role_for_its_intent(
    fake: FakeCoordinator, url: str, store: RunStore, tmp_path: Path
) -> None:
    def respond(model: str, messages: list[dict[str, str]]) -> str:
        prompt = prompt_of(messages)
        if prompt.startswith("Classify"):
            return "unsure"  # the rules decide
        if "phases of this conversation" in prompt:
            return "review, because the article is drafted"
        if "Analyse" in prompt:
            return "We talked about tides."
        return "Tides\nThe moon pulls the sea." if prompt.startswith("Write") else "Hello there!"

    fake.responder = respond
    turns = ["Please write an article about tides", "Hi, how are you?", "Summarize the conversation so far",
             "Let's move on to the next phase"]  # fmt: skip
    outcome = start_run(config(url, tmp_path, team="assistant", inputs=turns), "sk-test", store)
    history = store.messages(outcome.run_id)
    routed = [(m.data["intent"], sorted(m.send_to)) for m in history if m.cause_by == "RecognizeIntent"]
    assert routed == [("article", ["ArticleWriter"]), ("reply", ["Replier"]), ("analysis", ["ContextAnalyst"]),
                      ("phase", ["PhaseController"])]  # fmt: skip
    answers = {m.data["turn"]: (m.sent_from, m.cause_by) for m in history if m.data.get("answer")}
    assert answers == {1: ("ArticleWriter", "WriteArticle"), 2: ("Replier", "Reply"),
                       3: ("ContextAnalyst", "AnalyzeContext"), 4: ("PhaseController", "ControlPhase")}  # fmt: skip
    analysis = next(
        r for r in fake.answered if prompt_of(r["messages"]).startswith("Conversation so far:\nUser: Please")
    )
    assert "User: Hi, how are you?" in prompt_of(analysis["messages"])  # the analyst sees the earlier turns
    report = (tmp_path / "report.md").read_text()
    assert report.count("## Turn") == 4 and "handled by PhaseController" in report and "phase: review" in report


def test_the_budget_stops_the_team_before_the_call_that_would_pass_it_and_resume_continues(
    fake: FakeCoordinator, url: str, store: RunStore, tmp_path: Path
) -> None:
    with pytest.raises(BudgetExceeded, match="before SummarizePassage: 30000000000000 of 35000000000000 wei"):
        start_run(config(url, tmp_path, max_passages=3, budget=Budget(wei=35 * 10**12)), "sk-test", store, run_id="r1")
    assert len(fake.requests) == 3 and store.run("r1").status == "stopped"
    assert not (tmp_path / "report.md").exists()
    outcome = resume_run("r1", "sk-test", store, budget=Budget.parse("0.001ether"))
    assert outcome.status == "finished" and outcome.calls == 5 and len(fake.requests) == 5
    assert len(set(prompts(fake))) == 5  # nothing asked twice
    assert (tmp_path / "report.md").exists()


def test_a_rate_limited_provider_slows_the_run_but_does_not_fail_it(
    fake: FakeCoordinator, url: str, store: RunStore, tmp_path: Path
) -> None:
    fake.refuse = lambda n, model: (429, {"Retry-After": "1"}) if n in (2, 3) else None
    outcome = start_run(config(url, tmp_path, max_passages=2, models=["llmnet/general"]), "sk-test", store)
    assert outcome.status == "finished" and (tmp_path / "report.md").exists()
    assert len(fake.requests) == 6 and len(fake.answered) == 4 and outcome.calls == 4


def test_a_failed_run_resumes_without_repeating_finished_actions(
    fake: FakeCoordinator, url: str, store: RunStore, tmp_path: Path
) -> None:
    fake.refuse = lambda n, model: (500, {}) if n == 3 else None
    hooks = RunHooks(policy=RetryPolicy(attempts=1))
    with pytest.raises(BackendUnavailable):
        start_run(config(url, tmp_path, max_passages=3), "sk-test", store, hooks, run_id="r2")
    assert store.run("r2").status == "failed" and len(fake.answered) == 2
    done = prompts(fake)
    outcome = resume_run("r2", "sk-test", store)
    assert outcome.status == "finished" and outcome.calls == 5
    assert prompts(fake)[:2] == done and len(set(prompts(fake))) == 5  # the two finished calls were not repeated


def test_bad_input_is_refused_clearly(store: RunStore, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown team 'reserch'; did you mean 'research'"):
        recipe_for("reserch")
    with pytest.raises(NotFound, match="no team run 'nope'"):
        resume_run("nope", "sk-test", store)
    assert store.runs() == []
    assert SAMPLE_CORPUS.is_dir()
