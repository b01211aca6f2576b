"""Supervised examples from a knowledge folder: a passage's sentences give questions the documents answer."""

from __future__ import annotations

import sys
from pathlib import Path

from llmnet.backends import FakeBackend, GenerationRequest
from llmnet.experts import ExpertBackend, KnowledgeBase
from llmnet.experts.knowledge import Passage
from llmnet.tuning.pairs import normalised_question, passage_questions, sft_examples

DAMS = (
    "The North Varn Dam stands 9 kilometres upstream, below the slopes of Mount Orrin. "
    "It was completed in 1962, is 58 metres high, and is an earth-fill dam with a clay core."
)
TEA = "县内最高峰为云雾尖，海拔1472米，山顶终年多雾。开茶节始办于1999年。"


def questions(text: str) -> dict[str, str]:
    return {f.question: f.answer for f in passage_questions(Passage("doc.md#1", "doc.md", "Dams", text))}


def test_numbers_years_and_names_become_questions_answered_by_their_clause() -> None:
    pairs = questions(DAMS)
    assert pairs["The North Varn Dam stands how many kilometres upstream, below the slopes of Mount Orrin?"] == (
        "The North Varn Dam stands 9 kilometres upstream, below the slopes of Mount Orrin."
    )
    assert pairs["The North Varn Dam stands 9 kilometres upstream, below the slopes of what?"].endswith("Orrin.")
    # "It" is the dam the sentence before named; the year is asked in place and fronted
    assert pairs["The North Varn Dam was completed in what year?"] == "The North Varn Dam was completed in 1962."
    assert pairs["When was the North Varn Dam completed?"] == "The North Varn Dam was completed in 1962."
    assert pairs["The North Varn Dam was completed in 1962, is how many metres high?"] == (
        "The North Varn Dam was completed in 1962, is 58 metres high."
    )


def test_the_taught_answer_leads_with_the_fact_its_question_asks_for() -> None:
    facts = {f.question: f for f in passage_questions(Passage("doc.md#1", "doc.md", "Dams", DAMS + " " + TEA))}
    height = facts["The North Varn Dam was completed in 1962, is how many metres high?"]
    assert height.fact == "58 metres"
    assert height.taught() == "58 metres: The North Varn Dam was completed in 1962, is 58 metres high."
    assert facts["When was the North Varn Dam completed?"].fact == "1962"  # not "in 1962"
    assert (
        facts["The North Varn Dam stands 9 kilometres upstream, below the slopes of what?"]
        .taught()
        .startswith("Mount Orrin: The North Varn Dam stands")
    )
    summit = facts["县内最高峰为云雾尖，海拔多少米，山顶终年多雾？"]
    assert summit.taught() == "1472米：县内最高峰为云雾尖，海拔1472米，山顶终年多雾。"
    assert facts["开茶节始办于哪一年？"].taught() == "1999年：开茶节始办于1999年。"


def test_a_measure_is_also_asked_with_its_adjective_and_a_second_verb_ends_the_clause() -> None:
    pairs = questions("The cable is 79 kilometres long and lets the island sell surplus wind power in winter.")
    assert pairs["How long is the cable?"] == "The cable is 79 kilometres long."
    assert pairs["The cable is how many kilometres long?"] == "The cable is 79 kilometres long."


def test_every_answer_states_the_fact_its_question_leaves_out() -> None:
    for question, answer in questions(DAMS).items():
        assert question.endswith("?") and answer.endswith(".")
        asked = set(question.rstrip("?").split())
        assert set(answer.rstrip(".").split()) - asked, (question, answer)


def test_chinese_numbers_years_and_names_are_asked_with_duoshao_nayinian_and_shenme() -> None:
    pairs = questions(TEA)
    assert pairs["县内最高峰为云雾尖，海拔多少米，山顶终年多雾？"] == "县内最高峰为云雾尖，海拔1472米，山顶终年多雾。"
    assert pairs["县内最高峰为什么，海拔1472米，山顶终年多雾？"] == "县内最高峰为云雾尖，海拔1472米，山顶终年多雾。"
    assert pairs["开茶节始办于哪一年？"] == "开茶节始办于1999年。"


def test_examples_carry_the_prompt_the_serving_expert_sends(tmp_path: Path) -> None:
    (tmp_path / "dams.md").write_text(f"# Dams\n\n{DAMS}\n", encoding="utf-8")
    examples = sft_examples(tmp_path)
    serving = ExpertBackend(FakeBackend(), KnowledgeBase.from_folder(tmp_path))
    for example in examples:
        question = example.messages[-1].content.rsplit("Question: ", 1)[-1]
        request = GenerationRequest.from_prompt(question)
        assert example.messages == serving.grounded(request, serving.retrieve(request)).messages
        assert example.source == "dams.md#1"
    assert any(e.answer == "1962: The North Varn Dam was completed in 1962." for e in examples)


def test_examples_are_deterministic_and_the_seed_only_orders_them(tmp_path: Path) -> None:
    (tmp_path / "dams.md").write_text(f"# Dams\n\n{DAMS}\n", encoding="utf-8")
    first, again, other = sft_examples(tmp_path), sft_examples(tmp_path), sft_examples(tmp_path, seed=1)
    assert first == again
    assert sorted(first, key=repr) == sorted(other, key=repr) and first != other


def test_questions_are_compared_without_case_spaces_or_punctuation() -> None:
    assert normalised_question("When was the dam  completed?") == normalised_question("when was the Dam completed")
    assert normalised_question("海拔多少米？") == "海拔多少米"


def test_held_out_questions_are_never_trained_on(tmp_path: Path) -> None:
    (tmp_path / "dams.md").write_text(f"# Dams\n\n{DAMS}\n", encoding="utf-8")
    test_question = "when was the North Varn Dam completed"  # worded as a generated question is, but for a test
    assert any(normalised_question(q) == normalised_question(test_question) for q in trained_questions(tmp_path))
    kept = trained_questions(tmp_path, held_out=[test_question])
    assert kept and all(normalised_question(q) != normalised_question(test_question) for q in kept)


def test_the_quality_set_is_held_out_where_its_documents_give_one_of_its_questions() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from quality import domains, knowledge_dir, load_items

    tested = [item.question for item in load_items()]
    for domain in domains():
        made = trained_questions(knowledge_dir(domain), held_out=tested)
        assert len(made) >= 60, domain  # every domain's documents give plenty to train on
        assert not {normalised_question(q) for q in made} & {normalised_question(q) for q in tested}, domain


def trained_questions(folder: Path, held_out: list[str] | None = None) -> list[str]:
    examples = sft_examples(folder, held_out=held_out or [])
    return [e.messages[-1].content.rsplit("Question: ", 1)[-1] for e in examples]
