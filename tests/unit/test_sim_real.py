"""The real-model simulation's plumbing, with scripted models: experts that find the answer in their
documents, general models that do not, judges that grade against the reference; every answer and
every rating computed once, and policies compared on the same generations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from llmnet.backends.base import Backend, GenerationRequest
from llmnet.backends.fake import FakeBackend
from llmnet.cli.main import app
from llmnet.cli.sim_real import sim_real
from llmnet.data import KNOWLEDGE_ROOT
from llmnet.errors import InputError
from llmnet.questions import load_questions
from llmnet.reputation.consensus import normalize_score
from llmnet.sim.metrics import accuracy
from llmnet.sim.real import answers_needed, load_setting, run_real
from llmnet.sim.scenario import Scenario

KNOWLEDGE = KNOWLEDGE_ROOT
QUESTIONS = KNOWLEDGE / "questions.jsonl"
REFERENCES = {q.question: q.reference for q in load_questions(QUESTIONS)}
BASE = Scenario(requests=300, k=2, batch=20, policies=("thompson", "random"), warmup_per_domain=30)


class ScriptedModels:
    """One scripted backend per model name, answering as a respondent or as a judge would."""

    def __init__(self) -> None:
        self.answers: list[str] = []  # the question of every answer generated
        self.judged: list[str] = []  # the answer text of every rating asked of a model
        self.backends: dict[str, Backend] = {}

    def __call__(self, name: str) -> Backend:
        if name not in self.backends:
            self.backends[name] = FakeBackend(lambda r, n=name: self.reply(n, r), model_id=name)
        return self.backends[name]

    def reply(self, model: str, request: GenerationRequest) -> str:
        text = request.messages[-1].content
        if "Answer to rate:" in text:
            answer = text.split("Answer to rate: ")[1].split("\n")[0]
            self.judged.append(answer)
            reference = text.split("(known to be correct): ")[1].split("\n")[0]
            return "Score: 9" if answer == reference else "Score: 3"
        question = text.rsplit("Question: ", 1)[-1]
        self.answers.append(question)
        grounded = model == "smollm2" and text.startswith("Answer the question using the passages")
        return REFERENCES[question] if grounded else "Unknown."


def test_experts_found_and_every_answer_and_rating_computed_once() -> None:
    models = ScriptedModels()
    setting = load_setting(BASE, QUESTIONS, KNOWLEDGE, models)
    assert list(setting.questions) == ["medicine", "astronomy", "law"]
    assert [r.name for r in setting.respondents][:2] == ["smollm2+medicine/1p", "smollm2+medicine/2p"]
    pop, (thompson, random), book = run_real(setting)
    # 6 experts x 8 questions + 2 general models x 24 questions, each generated exactly once
    assert len(models.answers) == len(book.answers) == answers_needed(setting) == 6 * 8 + 2 * 24
    # two distinct answers per question at most (right / "Unknown."), each rated once per judge model
    assert len(models.judged) == len(book.ratings) <= 2 * 24 * 2
    assert pop.quality[pop.expert].min() == 1.0 and pop.quality[~pop.expert & pop.member].max() == 0.0
    late = slice(150, None)
    assert thompson.expert_share[late].mean() > 0.9 > random.expert_share[late].mean()
    assert accuracy(thompson, normalize_score(7.0)) > accuracy(random, normalize_score(7.0))
    # the answer delivered is the best-rated: a request that asked an expert got its right answer
    asked_expert = random.expert_share > 0
    assert (random.final[asked_expert] == 1.0).all() and (random.final[~asked_expert] == 0.0).all()


def test_the_same_seed_gives_the_same_run() -> None:
    _, first, _ = run_real(load_setting(BASE, QUESTIONS, KNOWLEDGE, ScriptedModels()))
    _, again, _ = run_real(load_setting(BASE, QUESTIONS, KNOWLEDGE, ScriptedModels()))
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.final, b.final) and np.array_equal(a.expert_share, b.expert_share)


def test_sim_real_writes_the_table_json_and_plots(tmp_path: Path) -> None:
    sim_real(BASE, QUESTIONS, KNOWLEDGE, ScriptedModels(), 48, 7.0, tmp_path, plots=True)
    report = json.loads((tmp_path / "summary.json").read_text())
    by_policy = {s["policy"]: s for s in report["summaries"]}
    assert by_policy["thompson"]["accuracy"] > by_policy["random"]["accuracy"]
    experts = [r for r in report["respondents"] if r["expert"]]
    assert len(experts) == 6 and all(r["accuracy"] == 1.0 for r in experts)
    answers = json.loads((tmp_path / "answers.json").read_text())
    assert len(answers) == report["run"]["answers"] == 96
    right = next(a for a in answers if a["respondent"] == "smollm2+law/2p")
    assert right["answer"] == right["reference"] and right["reference_score"] == 10.0
    assert set(right["ratings"]) == {"smollm2", "gemma3-270m"}
    assert (tmp_path / "simulation.png").stat().st_size > 0 and (tmp_path / "baselines.png").stat().st_size > 0


def test_bad_input_is_refused_with_what_to_change(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sim", "--real", "--providers", "10", "--out", str(tmp_path)])
    assert isinstance(result.exception, InputError) and "--providers" in str(result.exception)
    result = CliRunner().invoke(app, ["sim", "--real", "--correct-at", "11", "--out", str(tmp_path)])
    assert isinstance(result.exception, InputError) and "--correct-at" in str(result.exception)
    with pytest.raises(InputError, match="not found"):
        load_setting(BASE, tmp_path / "missing.jsonl", KNOWLEDGE, ScriptedModels())
    other = tmp_path / "q.jsonl"
    other.write_text(json.dumps({"question": "What is 2 + 2?", "reference": "4", "domain": "general"}) + "\n")
    with pytest.raises(InputError, match="knowledge folder"):
        load_setting(BASE, other, KNOWLEDGE, ScriptedModels())
    assert not list(tmp_path.glob("*.json"))
