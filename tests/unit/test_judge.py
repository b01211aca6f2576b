from __future__ import annotations

import pytest

from llmnet.backends.base import GenerationRequest
from llmnet.backends.fake import FakeBackend
from llmnet.errors import InputError
from llmnet.roles.judge import (
    DEFAULT_RUBRIC,
    CombinedJudge,
    FakeJudge,
    Judge,
    JudgeResult,
    LLMJudge,
    ReferenceJudge,
    length_penalties,
    parse_score,
    tokens,
)
from llmnet.roles.pairwise import pairwise_prefer, parse_choice

REFERENCE_CASES = [
    # question, reference, correct answer, wrong answer
    ("What is the capital of France?", "Paris", "The capital of France is Paris.", "The capital of France is Lyon."),
    ("What is 12 times 12?", "144", "12 x 12 = 144", "12 x 12 = 124"),
    ("Who wrote Hamlet?", "William Shakespeare", "Hamlet was written by Shakespeare.", "Christopher Marlowe"),
    (
        "At what temperature does water boil at sea level?",
        "100 degrees Celsius",
        "Water boils at 100 °C at sea level.",
        "It boils at 90 degrees.",
    ),
    ("Which planet is largest?", "Jupiter is the largest planet.", "jupiter!!", "Saturn is the largest planet."),
    ("How many legs does a spider have?", "Eight (8) legs.", "A spider has 8 legs", "Six legs"),
]


@pytest.mark.parametrize(("question", "reference", "right", "wrong"), REFERENCE_CASES)
def test_reference_judge_ranks_the_correct_answer_higher(question: str, reference: str, right: str, wrong: str) -> None:
    scores = ReferenceJudge().rate(question, {"right": right, "wrong": wrong}, reference)
    assert scores["right"] > scores["wrong"], scores
    assert all(1.0 <= s <= 10.0 for s in scores.values())


def test_reference_judge_scores_containment_high_and_empty_answers_1() -> None:
    answers = {"exact": "Paris", "contains": "It's Paris, of course.", "empty": "  ", "punct": "?!"}
    scores = ReferenceJudge().rate("What is the capital of France?", answers, "Paris.")
    assert scores["exact"] == 10.0
    assert scores["contains"] >= 8.0
    assert scores["empty"] == 1.0 and scores["punct"] == 1.0


def test_reference_judge_penalizes_shotgun_answers() -> None:
    answers = {"one": "Paris", "many": "Paris or Lyon or Marseille or Nice"}
    scores = ReferenceJudge().rate("Capital of France?", answers, "Paris")
    assert scores["one"] > scores["many"] > 1.0


def test_reference_judge_needs_a_reference() -> None:
    assert ReferenceJudge.needs_reference
    with pytest.raises(InputError, match="needs a reference"):
        ReferenceJudge().rate("q", {"a": "x"})


def test_tokens_ignore_case_and_punctuation_but_keep_numbers() -> None:
    assert tokens("The Answer: 1,000 cats (3.14)!") == ["the", "answer", "1000", "cat", "3.14"]


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("Score: 8", 8.0),
        ("score = 3. The answer is vague.", 3.0),
        ("I'd give it 7/10", 7.0),
        ("1. Correctness: good\n2. Overall score is 9", 9.0),
        ("**Score:** 10", 10.0),
        ("Rating 6 out of 10", 6.0),
        ("Score: 0, no wait, 4", 4.0),
        ("This deserves a 12 out of 10... I mean 8", 8.0),
        ("no idea", None),
        ("", None),
        ("Score: 42", None),
    ],
)
def test_parse_score(reply: str, score: float | None) -> None:
    assert parse_score(reply) == score


def test_llm_judge_parses_scripted_replies_and_records_failures() -> None:
    backend = FakeBackend()
    backend.enqueue("Score: 8", "I'd give it 7/10", "garbage without a number")
    judge = LLMJudge(backend)
    result = judge.rate_detailed("Capital of France?", {"a": "Paris", "b": "paris", "c": "Lyon"})
    assert result == JudgeResult(
        scores={"a": 8.0, "b": 7.0, "c": 5.0},
        raw_outputs={"a": "Score: 8", "b": "I'd give it 7/10", "c": "garbage without a number"},
        parse_failures=("c",),
    )


def test_llm_judge_rates_each_answer_separately_at_temperature_0() -> None:
    backend = FakeBackend(lambda request: "Score: 6")
    scores = LLMJudge(backend).rate("What is 2+2?", {"a": "4", "b": "five", "empty": ""}, reference="4")
    assert scores == {"a": 6.0, "b": 6.0, "empty": 1.0}
    assert len(backend.requests) == 2  # an empty answer is not worth a call
    for request, answer in zip(backend.requests, ("4", "five"), strict=True):
        assert request.temperature == 0.0
        prompt = request.messages[-1].content
        assert f"Answer to rate: {answer}" in prompt and "Reference answer" in prompt and "What is 2+2?" in prompt
        assert DEFAULT_RUBRIC in request.messages[0].content and request.messages[0].role == "system"


def test_llm_judge_omits_the_reference_when_there_is_none() -> None:
    backend = FakeBackend(lambda request: "Score: 6")
    LLMJudge(backend, rubric="Grade harshly.").rate("q", {"a": "x"})
    system, user = backend.requests[0].messages
    assert "Reference" not in user.content and "Grade harshly." in system.content


def test_llm_judge_rate_is_rate_detailed_scores_and_keeps_no_state() -> None:
    backend = FakeBackend(lambda request: "hmm")
    judge = LLMJudge(backend)
    assert judge.rate("q", {"a": "x"}) == {"a": 5.0}
    assert not hasattr(judge, "last_parse_failures")


def test_length_normalization_penalizes_answers_far_longer_than_the_median() -> None:
    answers = {"short": "Paris", "medium": "It is Paris", "long": "Paris " * 40}
    penalties = length_penalties(answers)
    assert penalties["short"] == penalties["medium"] == 0.0
    assert penalties["long"] == 3.0
    scores = LLMJudge(FakeBackend(lambda r: "Score: 9"), length_normalize=True).rate("q", answers)
    assert scores == {"short": 9.0, "medium": 9.0, "long": 6.0}
    assert LLMJudge(FakeBackend(lambda r: "Score: 9")).rate("q", answers)["long"] == 9.0


def test_combined_judge_blends_with_a_reference_and_falls_back_without() -> None:
    llm = FakeJudge({"a": 4.0, "b": 8.0})
    reference = FakeJudge({"a": 10.0, "b": 1.0})
    judge = CombinedJudge(reference, llm, reference_weight=0.7)
    assert judge.rate("q", {"a": "x", "b": "y"}, reference="x") == pytest.approx({"a": 8.2, "b": 3.1})
    assert judge.rate("q", {"a": "x", "b": "y"}) == {"a": 4.0, "b": 8.0}
    assert len(reference.calls) == 1  # not asked without a reference
    assert llm.calls[0][2] == "x"  # the LLM judge sees the reference too


def test_combined_judge_with_real_parts_passes_on_parse_failures() -> None:
    backend = FakeBackend()
    backend.enqueue("Score: 10", "what?")
    judge = CombinedJudge(ReferenceJudge(), LLMJudge(backend))
    result = judge.rate_detailed("Capital of France?", {"right": "Paris", "wrong": "Rome"}, reference="Paris")
    assert result.scores == pytest.approx({"right": 10.0, "wrong": 0.7 * 1.0 + 0.3 * 5.0})
    assert result.parse_failures == ("wrong",)
    with pytest.raises(InputError, match="reference_weight"):
        CombinedJudge(ReferenceJudge(), LLMJudge(backend), reference_weight=1.5)


def test_fake_judge_scripts_by_mapping_or_function() -> None:
    assert FakeJudge({"a": 9}).rate("q", {"a": "x", "b": "y"}) == {"a": 9.0, "b": 5.0}
    by_text = FakeJudge(lambda key, text: 10.0 if "Paris" in text else 2.0)
    assert by_text.rate("q", {"a": "Paris", "b": "Rome"}) == {"a": 10.0, "b": 2.0}
    assert by_text.rate_detailed("q", {"a": "Paris"}) == JudgeResult({"a": 10.0})


def test_a_custom_judge_needs_only_rate() -> None:
    class Constant(Judge):
        def rate(self, question: str, answers: object, reference: str | None = None) -> dict[str, float]:
            assert isinstance(answers, dict)
            return dict.fromkeys(answers, 7.0)

    assert Constant().rate_detailed("q", {"a": "x"}).scores == {"a": 7.0}


def _preferring(word: str, fallback: str = "T") -> FakeBackend:
    """A judge that picks whichever position holds an answer containing ``word``."""

    def reply(request: GenerationRequest) -> str:
        prompt = request.messages[-1].content
        first = prompt.split("Answer A:")[1].split("Answer B:")[0]
        second = prompt.split("Answer B:")[1]
        return "A" if word in first else "B" if word in second else fallback

    return FakeBackend(reply)


def test_pairwise_prefer_asks_in_both_orders() -> None:
    backend = _preferring("Paris")
    verdict = pairwise_prefer(backend, "Capital of France?", "Rome", "Paris")
    assert verdict.winner == "b" and not verdict.flipped
    assert len(backend.requests) == 2
    assert pairwise_prefer(_preferring("Paris"), "q", "Paris", "Rome").winner == "a"
    assert pairwise_prefer(_preferring("Berlin"), "q", "Paris", "Rome").winner == "tie"


def test_pairwise_prefer_catches_position_bias() -> None:
    always_first = FakeBackend(lambda request: "Answer A is better.")
    verdict = pairwise_prefer(always_first, "q", "Paris", "Rome")
    assert verdict.winner == "tie" and verdict.flipped
    assert verdict.raw_outputs == ("Answer A is better.", "Answer A is better.")


def test_pairwise_prefer_keeps_a_winner_over_an_abstention() -> None:
    backend = FakeBackend()
    backend.enqueue("B", "T")
    assert pairwise_prefer(backend, "q", "x", "y").winner == "b"
    backend.enqueue("I cannot decide", "A")
    assert pairwise_prefer(backend, "q", "x", "y").winner == "b"


@pytest.mark.parametrize(
    ("reply", "choice"),
    [("A", "A"), (" B.", "B"), ("T", "T"), ("The better answer is B", "B"), ("Winner: a", "A"), ("neither", None)],
)
def test_parse_choice(reply: str, choice: str | None) -> None:
    assert parse_choice(reply) == choice
