"""Domain detection: routing questions to medicine, astronomy, law or general."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmnet.errors import ConfigError, InputError
from llmnet.experts import DomainClassifier

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"
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
