"""The grounded judge: answers checked against a domain's documents, never against a reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmnet.backends.base import GenerationRequest
from llmnet.backends.fake import FakeBackend
from llmnet.backends.llamacpp import yes_share
from llmnet.data import KNOWLEDGE_ROOT
from llmnet.experts.knowledge import KnowledgeBase
from llmnet.roles.grounded import GroundedJudge
from llmnet.roles.validator import JudgeSpec

ZARNAK = """# Zarnak fever

## Incubation

Zarnak fever has an incubation period of 12 days. Symptoms begin with a rash on the wrists.
The disease was first described by Mira Tolsen in 1962 at the Orvell Institute.

## Treatment

Patients are treated with velorin, 250 mg twice a day. About 8 percent of patients relapse within the
first year. Chronic cases are followed up for 35 years.

## Diagnosis

Zarnak fever is diagnosed at a body temperature of 38.4 °C or higher. The normal body temperature is about 37 °C.

## The Orvell Institute

The Orvell Institute stands on Kell Island. Its laboratory is 2.5 km from the harbour.
"""

LAKE = """# 蓝晶湖

## 概况

蓝晶湖位于泽塔山脉北部，湖面海拔为三千二百米，最大深度为八十五米。湖泊由地质学家林知远于1978年首次测量。

## 生态

蓝晶湖中生活着约一千二百种浮游生物。每年大约有百分之十五的湖面在冬季结冰。
"""


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory) -> GroundedJudge:
    root = tmp_path_factory.mktemp("corpora")
    (root / "medicine").mkdir()
    (root / "medicine" / "zarnak.md").write_text(ZARNAK, encoding="utf-8")
    (root / "lakes").mkdir()
    (root / "lakes" / "lake.md").write_text(LAKE, encoding="utf-8")
    corpora = {
        "medicine": KnowledgeBase.from_folder(root / "medicine"),
        "lakes": KnowledgeBase.from_folder(root / "lakes"),
    }
    return GroundedJudge(corpora)


# domain, question, answer, right?
CASES = [
    ("medicine", "How long is the incubation period of Zarnak fever?", "12 days", True),
    ("medicine", "How long is the incubation period of Zarnak fever?", "It is about twelve days.", True),
    ("medicine", "How long is the incubation period of Zarnak fever?", "14 days", False),
    ("medicine", "How long is the incubation period of Zarnak fever?", "Two weeks.", False),
    ("medicine", "How long is the incubation period of Zarnak fever?", "Either 10 or 12 days.", False),
    ("medicine", "How long is the incubation period of Zarnak fever?", "It begins with a rash on the wrists.", False),
    ("medicine", "How long is the incubation period of Zarnak fever?", "12 days; normal temperature is 37 °C.", True),
    ("medicine", "Who first described Zarnak fever?", "Mira Tolsen", True),
    ("medicine", "Who first described Zarnak fever?", "It was first described by Mira Tolsen in 1962.", True),
    ("medicine", "Who first described Zarnak fever?", "Johan Berg described it.", False),
    ("medicine", "Who first described Zarnak fever?", "Johan Berg, in 1962.", False),  # the right year, the wrong name
    ("medicine", "What share of patients relapse within the first year?", "8 percent", True),
    ("medicine", "What share of patients relapse within the first year?", "eight per cent", True),
    ("medicine", "What share of patients relapse within the first year?", "8 %", True),
    ("medicine", "What share of patients relapse within the first year?", "About 20 %.", False),
    ("medicine", "At what temperature is Zarnak fever diagnosed?", "At 38.4 degrees Celsius or higher.", True),
    ("medicine", "At what temperature is Zarnak fever diagnosed?", "37 °C", False),
    ("medicine", "For how many years are chronic cases followed up?", "Thirty-five years.", True),
    ("medicine", "For how many years are chronic cases followed up?", "20 years.", False),
    ("medicine", "How far is the Orvell Institute's laboratory from the harbour?", "2,500 metres", True),
    ("medicine", "How far is the Orvell Institute's laboratory from the harbour?", "3.5 km", False),
    ("lakes", "蓝晶湖的最大深度是多少？", "八十五米", True),
    ("lakes", "蓝晶湖的最大深度是多少？", "最大深度为85米。", True),
    ("lakes", "蓝晶湖的最大深度是多少？", "六十米", False),
    ("lakes", "蓝晶湖位于哪座山脉？", "泽塔山脉北部", True),
    ("lakes", "蓝晶湖位于哪座山脉？", "蓝晶湖位于哪座山脉？", False),  # the question repeated
    ("lakes", "蓝晶湖的最大深度是多少？", "三千二百米", False),  # the altitude, stated in the same sentence
    ("lakes", "蓝晶湖海拔多少米？", "3,200 metres", True),
    ("lakes", "蓝晶湖海拔多少米？", "两千米", False),
    ("lakes", "谁首次测量了蓝晶湖？", "林知远", True),
    ("lakes", "谁首次测量了蓝晶湖？", "王大明", False),
    ("lakes", "每年有多少湖面在冬季结冰？", "百分之十五", True),
    ("lakes", "每年有多少湖面在冬季结冰？", "15%", True),
    ("lakes", "每年有多少湖面在冬季结冰？", "百分之五十", False),
    ("general", "What is 12 times 12?", "12 times 12 is 144.", True),
    ("general", "What is 12 times 12?", "It is a time limit of twelve years.", False),
    ("general", "一百减去三十七等于多少？", "六十三", True),
    ("general", "一百减去三十七等于多少？", "73", False),
]


@pytest.mark.parametrize(("domain", "question", "answer", "right"), CASES)
def test_right_answers_score_high_and_wrong_ones_low(
    judge: GroundedJudge, domain: str, question: str, answer: str, right: bool
) -> None:
    [score] = judge.rate(question, {"a": answer}, domain=domain).values()
    assert score >= 8.0 if right else score <= 3.0


def test_a_reference_when_given_is_the_evidence() -> None:
    judge = GroundedJudge({})
    answers = {"a": "The capital of France is Paris.", "b": "Lyon", "c": "It has 8 legs", "d": "six legs"}
    scores = judge.rate("Capital of France?", {k: answers[k] for k in "ab"}, "Paris", domain="general")
    assert scores == {"a": 10.0, "b": 2.0}
    scores = judge.rate("How many legs does a spider have?", {k: answers[k] for k in "cd"}, "Eight legs.")
    assert scores == {"c": 10.0, "d": 1.0}


def test_each_rating_says_why(judge: GroundedJudge) -> None:
    result = judge.rate_detailed(
        "How long is the incubation period of Zarnak fever?", {"ok": "twelve days", "no": "14 days"}, domain="medicine"
    )
    ok, no = (json.loads(result.raw_outputs[key]) for key in ("ok", "no"))
    assert ok["verdict"] == "supported" and ok["matched"] == ["twelve days"] and ok["passage"] == "zarnak.md#1"
    assert "incubation period of 12 days" in ok["evidence"][0]
    assert no["verdict"] == "contradicted" and no["contradicted"] == ["14 days"]


def test_without_the_domain_s_documents_answers_that_agree_support_each_other(judge: GroundedJudge) -> None:
    answers = {"a": "Velka", "b": "The capital is Velka.", "c": "Drun"}
    scores = judge.rate("What is the capital of Zorbia?", answers, domain="geography")
    assert scores["a"] == scores["b"] == 7.0 and scores["c"] == 5.0
    numbers = {"a": "It has 3 moons.", "b": "Three moons.", "c": "7 moons"}
    scores = judge.rate("How many moons does Zorbia have?", numbers, domain=None)
    assert scores["a"] == scores["b"] == 7.0 and scores["c"] == 3.0


def test_a_right_value_with_an_unsupported_extra_one_is_rated_above_the_middle(judge: GroundedJudge) -> None:
    question = "How long is the incubation period of Zarnak fever?"
    answers = {"extra": "12 days, and patients recover within 3 weeks.", "hedge": "12 days or 3 weeks."}
    scores = judge.rate(question, answers, domain="medicine")
    assert scores == {"extra": 6.0, "hedge": 2.0}


def test_an_empty_answer_scores_1(judge: GroundedJudge) -> None:
    assert judge.rate("Who first described Zarnak fever?", {"a": "  "}, domain="medicine") == {"a": 1.0}


class YesNoBackend(FakeBackend):
    """A fake model whose yes/no verdict is scripted: P(yes) by whether the answer contains ``right``."""

    can_judge_yes_no = True

    def __init__(self, right: str) -> None:
        super().__init__()
        self.right = right

    def yes_probability(self, request: GenerationRequest) -> float:
        self.requests.append(request)
        return 0.9 if self.right in request.messages[-1].content else 0.2


def test_with_nothing_else_to_go_on_the_model_s_yes_no_verdict_decides() -> None:
    backend = YesNoBackend("Paris")
    judge = GroundedJudge({}, backend)
    scores = judge.rate("What is the capital of France?", {"a": "Paris", "b": "Lyon"}, domain="general")
    assert scores["a"] > 8.0 and scores["b"] < 3.5
    assert "Is the proposed answer correct?" in backend.requests[0].messages[-1].content


def test_a_near_tie_is_broken_by_comparing_both_orders() -> None:
    def prefers_paris(request: GenerationRequest) -> str:
        prompt = request.messages[-1].content
        if "Answer A:" not in prompt:
            return "Score: 5"  # rated on its own: the same for both
        first = prompt.split("Answer A:")[1].split("Answer B:")[0]
        return "A" if "Paris" in first else "B"

    judge = GroundedJudge({}, FakeBackend(prefers_paris))
    scores = judge.rate("What is the capital of France?", {"a": "Lyon", "b": "Paris"}, domain="general")
    assert scores["b"] > scores["a"]
    assert scores["b"] - scores["a"] == 1.0


def test_long_answers_without_evidence_lose_points_for_length() -> None:
    padding = " ".join(["and it is also known for many other things"] * 6)
    answers = {"short": "Velka", "also": "Velka", "long": f"Velka, {padding}"}
    scores = GroundedJudge({}).rate("What is the capital of Zorbia?", answers, domain="general")
    assert scores["long"] < scores["short"]


def test_the_judge_registers_no_model_unless_it_has_one() -> None:
    assert GroundedJudge({}).identity() == ("judge-grounded", "0x" + "00" * 32)
    assert GroundedJudge({}, FakeBackend(model_id="tiny")).identity()[0] == "tiny"


def test_a_validator_spec_builds_a_grounded_judge_from_folders(tmp_path: Path) -> None:
    (tmp_path / "zarnak.md").write_text(ZARNAK, encoding="utf-8")
    judge = JudgeSpec(kind="grounded", corpora={"medicine": tmp_path}).build()
    assert isinstance(judge, GroundedJudge) and judge.reads_domain
    assert judge.rate("Who first described Zarnak fever?", {"a": "Mira Tolsen"}, domain="medicine") == {"a": 10.0}


def test_yes_share_reads_yes_against_no_from_top_log_probabilities() -> None:
    top = [{"token": "Yes", "logprob": -0.1}, {"token": " no", "logprob": -2.4}, {"token": "Maybe", "logprob": -1.0}]
    assert yes_share(top) == pytest.approx(0.909, abs=0.001)
    assert yes_share([{"token": "Paris", "logprob": -0.1}]) == 0.5


@pytest.mark.parametrize(
    ("domain", "question", "right", "wrong"),
    [
        ("astronomy", "How far is a light-year?", "About 9.46 trillion kilometres.", "9.432 × 10^6 km"),
        ("medicine", "What is the normal human body temperature in degrees Celsius?", "About 37 °C.", "37.6 °C"),
        ("general", "What is 12 times 12?", "144", "Time limits run from the date of the breach."),
    ],
)
def test_the_demo_s_wrong_answers_are_rated_low_against_the_shipped_documents(
    domain: str, question: str, right: str, wrong: str
) -> None:
    corpora = {d: KnowledgeBase.from_folder(KNOWLEDGE_ROOT / d) for d in ("astronomy", "medicine")}
    scores = GroundedJudge(corpora).rate(question, {"right": right, "wrong": wrong}, domain=domain)
    assert scores["right"] >= 9.0 and scores["wrong"] <= 2.0, scores
