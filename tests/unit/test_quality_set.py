"""The shipped quality set: its lines parse, its counts meet the minimums, every reference passes its own
correctness rule, every answer is in the documents, and near misses are labelled as the rule decides."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest

from llmnet.experts.knowledge import split_passages

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from quality import (
    CORRECTNESS_RULE,
    GENERAL,
    NEAR_MISS_KINDS,
    NearMiss,
    QualityItem,
    domains,
    is_correct,
    knowledge_dir,
    load_items,
    load_near_misses,
    normalise_answer,
)
from quality.dataset import ROOT

ITEMS = load_items()
BY_ID = {item.id: item for item in ITEMS}
NEAR_MISSES = load_near_misses()
HAN = re.compile(r"[\u4e00-\u9fff]")
ZH_NUMERAL = re.compile(r"[零〇一二三四五六七八九十百千万亿两]+")
DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_every_line_has_exactly_the_documented_fields() -> None:
    fields = {"id", "question", "domain", "lang", "kind", "reference", "accept", "reject", "source"}
    lines = (ROOT / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    assert all(set(json.loads(line)) == fields for line in lines)
    assert len(lines) == len(ITEMS)


def test_counts_meet_the_minimums() -> None:
    per_domain = Counter(item.domain for item in ITEMS)
    general = [item for item in ITEMS if item.domain == GENERAL]
    assert len(ITEMS) >= 132
    assert len(domains()) >= 4
    assert all(per_domain[slug] >= 25 for slug in domains())
    assert sum(item.lang == "zh" for item in ITEMS) >= 25
    assert len(general) >= 12
    assert sum(item.kind == "arithmetic" for item in general) >= 8
    assert {item.kind for item in general} == {"arithmetic", "general"}


def test_domains_are_short_slugs_with_a_description_and_a_chinese_one() -> None:
    for slug, domain in domains().items():
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,23}", slug)
        assert len(domain.description) > 80
    assert {domain.language for domain in domains().values()} == {"en", "zh"}


@pytest.mark.parametrize("slug", sorted(domains()))
def test_each_domain_has_five_to_eight_documents_of_the_right_size(slug: str) -> None:
    documents = sorted(knowledge_dir(slug).glob("*.md"))
    chinese = domains()[slug].language == "zh"
    assert 5 <= len(documents) <= 8
    for document in documents:
        text = document.read_text(encoding="utf-8")
        size = len(HAN.findall(text)) if chinese else len(text.split())
        assert (300 <= size <= 900) if chinese else (150 <= size <= 500), (document.name, size)
        assert text.startswith("# ") and "\n## " in text
        assert not (chinese and re.search(r"[A-Za-z]", text)), document.name  # written entirely in Chinese


def test_every_pattern_compiles() -> None:
    for item in ITEMS:
        for pattern in [*(p for group in item.accept for p in group), *item.reject]:
            re.compile(pattern, re.IGNORECASE)


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.id)
def test_the_reference_passes_its_own_rule(item: QualityItem) -> None:
    assert is_correct(item, item.reference)


def test_every_question_names_a_known_domain_and_an_existing_source() -> None:
    for item in ITEMS:
        if item.domain == GENERAL:
            assert item.source == "" and item.kind in ("arithmetic", "general")
        else:
            assert item.kind == "fact" and (knowledge_dir(item.domain) / item.source).is_file(), item.id


def test_questions_are_in_the_language_of_their_domain() -> None:
    for item in ITEMS:
        assert bool(HAN.search(item.question)) == (item.lang == "zh"), item.id
        if item.domain != GENERAL:
            assert item.lang == domains()[item.domain].language, item.id


@pytest.mark.parametrize("item", [i for i in ITEMS if i.kind == "fact"], ids=lambda item: item.id)
def test_the_reference_numbers_are_written_in_the_source_document(item: QualityItem) -> None:
    document = (knowledge_dir(item.domain) / item.source).read_text(encoding="utf-8")
    plain = document.replace(",", "")
    for number in DIGITS.findall(item.reference):
        assert number.replace(",", "") in plain, number
    for numeral in ZH_NUMERAL.findall(item.reference):
        assert numeral in document, numeral


@pytest.mark.parametrize("item", [i for i in ITEMS if i.kind == "fact"], ids=lambda item: item.id)
def test_one_passage_of_the_source_satisfies_the_whole_rule(item: QualityItem) -> None:
    document = (knowledge_dir(item.domain) / item.source).read_text(encoding="utf-8")
    passages = split_passages(document, item.source)
    assert any(
        all(any(re.search(p, normalise_answer(passage.text), re.I) for p in group) for group in item.accept)
        for passage in passages
    )


def test_no_two_questions_ask_the_same_thing_or_share_an_answer_in_one_domain() -> None:
    assert len({item.question for item in ITEMS}) == len(ITEMS)
    answers = Counter((item.domain, normalise_answer(item.reference).lower()) for item in ITEMS)
    assert [key for key, count in answers.items() if count > 1] == []


def test_near_misses_meet_the_minimums_and_cover_every_kind() -> None:
    assert len(NEAR_MISSES) >= 60
    assert sum(bool(HAN.search(near.answer)) for near in NEAR_MISSES) >= 12
    assert {near.kind for near in NEAR_MISSES} == set(NEAR_MISS_KINDS)
    assert all(NEAR_MISS_KINDS[near.kind] == near.correct for near in NEAR_MISSES)


@pytest.mark.parametrize("near", NEAR_MISSES, ids=lambda near: f"{near.question_id}-{near.kind}")
def test_each_near_miss_label_agrees_with_the_rule(near: NearMiss) -> None:
    assert is_correct(BY_ID[near.question_id], near.answer) == near.correct


@pytest.mark.parametrize(
    ("question_id", "answer"),
    [
        ("varn-003", "Mount Orrin is 1,138 kilometres high."),  # right number, wrong unit
        ("varn-010", "There were 18,700 breeding pairs."),  # the right digits inside a larger number
        ("varn-008", "It averages 115.3 °C in August."),
        ("varn-016", "Both dams were built around 1958 and 1962."),
        ("halv-010", "Adults begin with 70 mg once daily."),
        ("halv-020", "About 4.7 percent."),
        ("rail-008", "The first train leaves at 06:20."),
        ("rail-018", "It carried 41.5 thousand passengers."),
        ("tea-005", "云雾尖海拔1472千米。"),
        ("tea-009", "常住人口约为2.76万人。"),
        ("gen-001", "12 times 12 is 1440."),
        ("gen-009", "一百减去三十七等于七十三。"),
    ],
)
def test_hand_written_wrong_answers_are_rejected(question_id: str, answer: str) -> None:
    assert not is_correct(BY_ID[question_id], answer)


@pytest.mark.parametrize(
    ("question_id", "answer"),
    [
        ("varn-027", "The crossing takes 3h40."),
        ("varn-027", "About three hours and forty minutes."),
        ("varn-023", "Roughly 38 400 people."),
        ("halv-013", "０.４ mg per kilogram once a day."),
        ("rail-013", "1.5 kV DC overhead wires."),
        ("tea-007", "年平均气温为１６.８℃。"),
    ],
)
def test_other_surface_forms_of_a_right_answer_pass(question_id: str, answer: str) -> None:
    assert is_correct(BY_ID[question_id], answer)


def test_the_rule_is_documented_word_for_word() -> None:
    assert _flat(is_correct.__doc__ or "") == _flat(CORRECTNESS_RULE)
    assert _flat(CORRECTNESS_RULE) in _flat((ROOT / "README.md").read_text(encoding="utf-8"))


def _copy_set(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "domains.json", tmp_path / "domains.json")
    return tmp_path


def test_a_malformed_line_names_the_line_and_the_field(tmp_path: Path) -> None:
    root = _copy_set(tmp_path)
    good = (ROOT / "questions.jsonl").read_text(encoding="utf-8").splitlines()[0]
    bad = json.loads(good) | {"lang": "fr"}
    (root / "questions.jsonl").write_text(f"{good}\n{json.dumps(bad)}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"questions\.jsonl line 2: field 'lang' is 'fr'"):
        load_items(root)


def test_a_pattern_that_does_not_compile_is_named(tmp_path: Path) -> None:
    root = _copy_set(tmp_path)
    bad = json.loads((ROOT / "questions.jsonl").read_text(encoding="utf-8").splitlines()[0]) | {"reject": ["(72"]}
    (root / "questions.jsonl").write_text(json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1: field 'reject': pattern '\(72' does not compile"):
        load_items(root)


def test_a_near_miss_for_an_unknown_question_is_named(tmp_path: Path) -> None:
    root = _copy_set(tmp_path)
    shutil.copy(ROOT / "questions.jsonl", root / "questions.jsonl")
    line = {"question_id": "varn-999", "answer": "x", "correct": False, "kind": "off-topic"}
    (root / "near_misses.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"near_misses\.jsonl line 1: field 'question_id' is 'varn-999'"):
        load_near_misses(root)
