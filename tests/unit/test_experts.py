"""Knowledge folders, BM25 retrieval and the expert backend over a scripted fake model."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmnet.backends import ChatMessage, FakeBackend, GenerationRequest
from llmnet.data import KNOWLEDGE_ROOT
from llmnet.errors import ConfigError
from llmnet.experts import ExpertBackend, KnowledgeBase, Passage, build_prompt, split_passages
from llmnet.experts.expert import FACTS_INSTRUCTION, FACTS_INSTRUCTION_ZH

KNOWLEDGE = KNOWLEDGE_ROOT

DOC = """# Tea

## Green tea

Green tea is made from leaves that are steamed or pan-fired soon after picking, which stops them from oxidising.

It has a grassy taste.

## Black tea

Black tea leaves are fully oxidised before drying, which gives a dark colour and a strong taste.
"""


def test_headings_become_titles_and_ids_count_within_a_file() -> None:
    passages = split_passages(DOC, "tea.md")
    assert [(p.id, p.title) for p in passages] == [("tea.md#1", "Green tea"), ("tea.md#2", "Black tea")]
    assert passages[0].text.endswith("It has a grassy taste.")
    assert all(p.source == "tea.md" for p in passages)


def test_long_sections_split_into_bounded_passages() -> None:
    sentence = "The quick brown fox jumps over the lazy dog again and again today."  # 13 words
    text = "## Foxes\n\n" + " ".join([sentence] * 30) + "\n\n" + "\n\n".join([sentence] * 6)
    passages = split_passages(text, "fox.txt")
    sizes = [len(p.text.split()) for p in passages]
    assert len(passages) > 3
    assert max(sizes) <= 120
    assert min(sizes) >= 20
    assert sum(sizes) == 13 * 36


def test_text_without_headings_is_titled_by_its_file_name() -> None:
    (passage,) = split_passages("Plain words about the sea.", "ocean_facts.txt")
    assert passage.title == "ocean facts"


def test_from_folder_reads_markdown_and_text_only(tmp_path: Path) -> None:
    (tmp_path / "tea.md").write_text(DOC)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "coffee.txt").write_text("Coffee is brewed from roasted coffee beans.")
    (tmp_path / "data.json").write_text('{"tea": "ignored"}')
    knowledge = KnowledgeBase.from_folder(tmp_path)
    assert knowledge.name == tmp_path.name
    assert [p.id for p in knowledge.passages] == ["notes/coffee.txt#1", "tea.md#1", "tea.md#2"]


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist"):
        KnowledgeBase.from_folder(tmp_path / "nowhere")


def test_folder_without_documents_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"no \.md or \.txt documents"):
        KnowledgeBase.from_folder(tmp_path)


def test_documents_without_text_are_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "empty.md").write_text("# Only a heading\n")
    with pytest.raises(ConfigError, match="no passages"):
        KnowledgeBase.from_folder(tmp_path)


@pytest.mark.parametrize(
    ("domain", "query", "passage_id"),
    [
        ("medicine", "Which vitamin deficiency causes scurvy?", "vitamins.md#2"),
        ("medicine", "What is a normal resting heart rate?", "blood_pressure.md#4"),
        ("medicine", "How long should I cool a burn with water?", "burns_first_aid.md#1"),
        ("astronomy", "Which is the largest planet?", "outer_planets.md#1"),
        ("astronomy", "How far away is the Moon from Earth?", "moon.md#1"),
        ("astronomy", "What is the nearest star to the Sun?", "light_year.md#4"),
        ("law", "How long does copyright last?", "copyright.md#4"),
        ("law", "What standard of proof is needed to convict someone of a crime?", "burden_of_proof.md#2"),
        ("law", "What is a counteroffer?", "contracts.md#3"),
    ],
)
def test_the_relevant_passage_ranks_first(domain: str, query: str, passage_id: str) -> None:
    hits = KnowledgeBase.from_folder(KNOWLEDGE / domain).retrieve(query, k=3)
    assert hits[0].passage.id == passage_id
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_retrieval_is_deterministic_and_respects_k_and_min_score() -> None:
    knowledge = KnowledgeBase.from_folder(KNOWLEDGE / "astronomy")
    first = knowledge.retrieve("Sun planets orbit", k=5)
    assert first == knowledge.retrieve("Sun planets orbit", k=5)
    assert len(first) == 5
    cut = first[2].score
    assert all(h.score > cut for h in knowledge.retrieve("Sun planets orbit", k=5, min_score=cut))


def test_queries_with_no_known_words_find_nothing() -> None:
    knowledge = KnowledgeBase.from_folder(KNOWLEDGE / "law")
    assert knowledge.retrieve("What is it?") == []
    assert knowledge.retrieve("zebra xylophone") == []


# -- the expert backend ---------------------------------------------------------------------------

FOX = Passage("fox.md#1", "fox.md", "Foxes", "A red fox hunts mice at night and lives in a den.")
CROW = Passage("crow.md#1", "crow.md", "Crows", "Crows are clever birds that use tools.")


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend(lambda request: "Foxes hunt at night.", model_id="fake-1")


def test_expert_describes_itself_from_inner_and_folder(fake: FakeBackend) -> None:
    fake.weights_sha256 = "ab" * 32
    expert = ExpertBackend(fake, KnowledgeBase.from_folder(KNOWLEDGE / "astronomy"))
    assert expert.model_id == "expert:fake-1+astronomy"
    assert expert.weights_sha256 == "ab" * 32
    assert expert.deterministic and expert.can_stream


def test_answer_grounds_the_prompt_and_reports_sources(fake: FakeBackend) -> None:
    expert = ExpertBackend(fake, KnowledgeBase.from_folder(KNOWLEDGE / "medicine"), k=2, evidence="passages")
    reply = expert.answer(GenerationRequest.from_prompt("Which vitamin deficiency causes scurvy?"))
    assert reply.completion.text == "Foxes hunt at night."
    assert reply.completion.model_id == expert.model_id
    assert reply.sources[0].id == "vitamins.md#2"
    assert reply.source_files[0] == "vitamins.md"
    prompt = fake.requests[-1].messages[-1].content
    assert f"[1] (vitamins.md, Vitamin C and scurvy) {reply.sources[0].text}" in prompt
    assert f"[2] ({reply.sources[1].source}, {reply.sources[1].title}) {reply.sources[1].text}" in prompt
    assert prompt.index("[1]") < prompt.index("[2]") < prompt.index("Question: Which vitamin")


def test_stream_retrieves_first_then_streams(fake: FakeBackend) -> None:
    expert = ExpertBackend(fake, KnowledgeBase([FOX, CROW]), min_score=0.0)
    sources, chunks = expert.stream(GenerationRequest.from_prompt("Where does a fox live?"))
    assert sources == [FOX]
    assert fake.requests == []  # nothing generated until the stream is read
    pieces = list(chunks)
    assert "".join(c.text for c in pieces) == "Foxes hunt at night."
    assert pieces[-1].finish_reason == "stop" and pieces[-1].usage is not None
    assert FOX.text in fake.requests[-1].messages[-1].content


def test_generate_is_the_grounded_plain_backend_method(fake: FakeBackend) -> None:
    expert = ExpertBackend(fake, KnowledgeBase([FOX, CROW]), min_score=0.0, evidence="passages")
    completion = expert.complete(GenerationRequest.from_prompt("Do crows use tools?"))
    assert completion.text == "Foxes hunt at night."
    assert completion.model_id == expert.model_id
    assert fake.requests[-1].messages[-1].content == build_prompt("Do crows use tools?", [CROW])


def test_only_the_last_user_message_is_grounded(fake: FakeBackend) -> None:
    expert = ExpertBackend(fake, KnowledgeBase([FOX, CROW]), min_score=0.0, evidence="passages")
    messages = (
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "Tell me about crows."),
        ChatMessage("assistant", "They are birds."),
        ChatMessage("user", "And the fox?"),
    )
    reply = expert.answer(GenerationRequest(messages, max_tokens=2))
    sent = fake.requests[-1]
    assert reply.sources == [FOX]
    assert sent.messages[:3] == messages[:3]
    assert sent.messages[3].content == build_prompt("And the fox?", [FOX])
    assert sent.max_tokens == 2 and reply.completion.finish_reason == "length"


def test_without_relevant_passages_the_request_passes_unchanged(fake: FakeBackend) -> None:
    expert = ExpertBackend(fake, KnowledgeBase.from_folder(KNOWLEDGE / "law"))
    request = GenerationRequest.from_prompt("What is the capital of France?")
    reply = expert.answer(request)
    assert reply.sources == [] and reply.source_files == []
    assert fake.requests[-1] == request


def test_by_default_the_model_sees_the_sentences_that_state_the_fact_not_the_whole_passage(fake: FakeBackend) -> None:
    expert = ExpertBackend(fake, KnowledgeBase.from_folder(KNOWLEDGE / "medicine"))
    reply = expert.answer(GenerationRequest.from_prompt("Which vitamin deficiency causes scurvy?"))
    prompt = fake.requests[-1].messages[-1].content
    assert reply.sources[0].id == "vitamins.md#2"  # sources still name the passage
    assert prompt.startswith(FACTS_INSTRUCTION) and prompt.endswith("Question: Which vitamin deficiency causes scurvy?")
    facts = [line[2:] for line in prompt.splitlines() if line.startswith("- ")]
    assert 1 <= len(facts) <= 3 and all(f in reply.sources[0].text or f in prompt for f in facts)
    assert any("scurvy" in f.lower() for f in facts)
    assert len(prompt) < len(build_prompt("Which vitamin deficiency causes scurvy?", reply.sources))


def test_a_chinese_question_gets_a_chinese_instruction(fake: FakeBackend, tmp_path: Path) -> None:
    text = "# 茶园\n\n翠岑县茶园面积为4.3万亩。全县有茶农4.1万户。\n\n# 茶节\n\n开茶节在每年3月18日举行。"
    (tmp_path / "tea.md").write_text(text, encoding="utf-8")
    expert = ExpertBackend(fake, KnowledgeBase.from_folder(tmp_path), min_score=0.0)
    expert.answer(GenerationRequest.from_prompt("翠岑县茶园面积有多大？"))
    prompt = fake.requests[-1].messages[-1].content
    assert prompt.startswith(FACTS_INSTRUCTION_ZH) and "4.3万亩" in prompt
