"""Domain detection: routing questions to medicine, astronomy, law or general."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

from llmnet.data import KNOWLEDGE_ROOT
from llmnet.errors import ConfigError, InputError
from llmnet.experts import DomainClassifier
from llmnet.experts import classifier as classifier_module
from llmnet.experts.classifier import is_arithmetic

KNOWLEDGE = KNOWLEDGE_ROOT
DOMAINS = ("medicine", "astronomy", "law", "general")


@pytest.fixture(scope="module")
def classifier() -> DomainClassifier:
    return DomainClassifier.from_knowledge(KNOWLEDGE, DOMAINS)


def test_accuracy_on_held_out_questions(classifier: DomainClassifier) -> None:
    with (KNOWLEDGE / "questions.jsonl").open(encoding="utf-8") as f:
        questions = [json.loads(line) for line in f if line.strip()]
    assert {q["domain"] for q in questions} == set(DOMAINS)
    correct = sum(classifier.classify(q["question"]).domain == q["domain"] for q in questions)
    acc, n = correct / len(questions), len(questions)
    print(f"domain classifier accuracy: {acc:.2f} on {n} questions")
    assert acc >= 0.8


def test_guess_carries_scores_for_every_domain(classifier: DomainClassifier) -> None:
    guess = classifier.classify("Which planet has rings made of ice?")
    assert guess.domain == "astronomy"
    assert set(guess.scores) == set(DOMAINS)
    assert guess.confidence == guess.scores["astronomy"] == max(guess.scores.values())
    assert classifier.classify("Which planet has rings made of ice?") == guess


@pytest.mark.parametrize("text", ["What is it?", "zxq vbn", ""])
def test_unmatched_text_falls_back_to_general(classifier: DomainClassifier, text: str) -> None:
    guess = classifier.classify(text)
    assert guess.domain == "general"
    assert 0.0 <= guess.confidence <= 1.0


def test_threshold_decides_the_fallback() -> None:
    examples = {"cooking": ["Bake bread in a hot oven.", "Boil pasta in salted water."], "general": ["Hello."]}
    question = "How hot should the oven be for bread?"
    assert DomainClassifier.fit(examples).classify(question).domain == "cooking"
    assert DomainClassifier.fit(examples, threshold=0.99).classify(question).domain == "general"


def test_fit_needs_examples_for_every_domain() -> None:
    with pytest.raises(InputError, match="law"):
        DomainClassifier.fit({"medicine": ["Fever is a high temperature."], "law": []})
    with pytest.raises(InputError, match="any domain"):
        DomainClassifier.fit({})


def test_from_knowledge_names_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="chemistry"):
        DomainClassifier.from_knowledge(tmp_path, ["chemistry"])
    with pytest.raises(ConfigError, match="no domains"):
        DomainClassifier.from_knowledge(tmp_path, ["general"])


@pytest.mark.parametrize(
    "question",
    ["What is 12 times 12?", "what is 7 plus 5", "15% of 80", "3 × 4", "一百减去三十七等于多少", "12乘以12等于几？",
     "What is the square root of 144?", "seven times eight", "What is 1,200 divided by 4? Answer with a number.",
     "三分之一加二分之一是多少", "２＋２＝？"],
)  # fmt: skip
def test_bare_sums_are_arithmetic(question: str) -> None:
    assert is_arithmetic(question)


@pytest.mark.parametrize(
    "question",
    ["How many days are in a leap year?", "What is 5 mg times 3?", "What is 12?", "twelve", "What is x?",
     "How long does a patent last?", "火星有几颗卫星？", "What happened in 1914 and 1918?", ""],
)  # fmt: skip
def test_questions_with_more_than_a_sum_are_not_arithmetic(question: str) -> None:
    assert not is_arithmetic(question)


def test_arithmetic_goes_to_general_before_any_domain_is_compared() -> None:
    clocks = ["Clock times: the times of day, opening times and times of trains.", "Times twelve times a day."]
    classifier = DomainClassifier.fit({"clocks": clocks, "general": ["Hello."]})
    assert classifier.classify("Which times do clocks show?").domain == "clocks"
    guess = classifier.classify("What is 12 times 12?")
    assert guess.domain == "general" and guess.confidence == 1.0
    assert guess.scores["clocks"] > guess.scores["general"]  # the vectors alone would have said clocks


def test_the_demo_knowledge_sends_12_times_12_to_general() -> None:
    demo = DomainClassifier.from_knowledge(KNOWLEDGE, ["medicine", "astronomy", "law", "corpus-energy", "general"])
    assert demo.classify("What is 12 times 12?").domain == "general"
    assert demo.classify("一百减去三十七等于多少").domain == "general"
    assert demo.classify("火星有几颗卫星？").domain == "astronomy"
    assert demo.classify("维生素C缺乏会导致什么病？").domain == "medicine"


def test_the_arithmetic_rule_documents_itself_with_examples_that_hold() -> None:
    failures, tried = doctest.testmod(classifier_module)
    assert tried >= 2 and failures == 0
