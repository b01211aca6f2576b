"""The shared tokenizer: one set of rules for English, other alphabets and CJK text."""

from __future__ import annotations

import doctest

import pytest

from llmnet.experts import tokens as tokens_module
from llmnet.experts.tokens import CJK_STOP_CHARS, cjk_terms, count_words, tokenize

ENGLISH = [
    ("How many moons does Mars have?", ["moon", "mar"]),
    ("Which vitamin deficiency causes scurvy?", ["vitamin", "deficiency", "cause", "scurvy"]),
    ("The Batteries' chemistries: boxes, churches, buses.", ["battery", "chemistry", "box", "church", "buse"]),
    ("COVID19 cases rose 12th-fold in 2020", ["covid19", "case", "rose", "12th", "fold", "2020"]),
]


@pytest.mark.parametrize(("text", "expected"), ENGLISH)
def test_english_keeps_stop_words_out_and_folds_plurals(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_the_module_documents_its_rules_with_examples_that_hold() -> None:
    failures, tried = doctest.testmod(tokens_module)
    assert tried >= 8 and failures == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.5 litres", ["2.5", "litre"]),
        ("1,200 people and 3,000,000.75 euros", ["1200", "people", "3000000.75", "euro"]),
        ("It ended in 3.14.", ["ended", "3.14"]),
        ("lists like 1,2,3 or 1.2.3", ["list", "like", "1", "2", "3", "1", "2", "3"]),
        ("2.5kg", ["2.5", "kg"]),
        ("１２，３４５．６ ＫＭ", ["12345.6", "km"]),
    ],
)
def test_numbers_stay_whole_and_drop_thousands_separators(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Café NAÏVE Straße", ["café", "naïve", "strasse"]),
        ("Cafe\u0301", ["café"]),  # a combining accent composes to the same word
        ("Москва и Санкт-Петербург", ["москва", "и", "санкт", "петербург"]),
        ("Ἀθῆναι ΣΟΦΊΑ", ["ἀθῆναι", "σοφία"]),
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),  # vowel signs are marks, not word breaks
        ("العَرَبِيَّة", ["العَرَبِيَّة"]),
    ],
)
def test_alphabetic_scripts_give_whole_words_with_their_accents(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_a_cjk_run_gives_characters_and_overlapping_pairs() -> None:
    assert tokenize("火星卫星") == ["火", "火星", "星", "星卫", "卫", "卫星", "星"]
    assert tokenize("서울 수도") == ["서", "서울", "울", "수", "수도", "도"]
    assert tokenize("カタカナ") == ["カ", "カタ", "タ", "タカ", "カ", "カナ", "ナ"]


def test_one_character_words_match_and_mixed_text_splits_at_script_changes() -> None:
    assert "水" in tokenize("水的沸点") and "沸点" in tokenize("水的沸点")
    assert tokenize("ABC公司的CEO") == ["abc", "公", "公司", "司", "司的", "ceo"]
    assert tokenize("第3章") == ["第", "3", "章"]


def test_chinese_function_words_are_dropped() -> None:
    terms = tokenize("火星的卫星是什么？有多少颗吗")
    assert not {"的", "是", "什么", "什", "么", "多少", "有", "吗", "是什"} & set(terms)
    assert {"火星", "卫星", "星的", "颗"} <= set(terms)
    assert all(term not in CJK_STOP_CHARS for term in cjk_terms("的了是在和有吗呢"))


def test_chinese_numerals_stay_characters() -> None:
    numerals = ["一", "一百", "百", "百减", "减", "减去", "去", "去三", "三", "三十", "十", "十七", "七"]
    assert tokenize("一百减去三十七") == numerals


def test_full_width_forms_and_case_do_not_matter() -> None:
    assert tokenize("ＭＡＲＳ 火星？") == tokenize("mars 火星?") == ["mar", "火", "火星", "星"]


@pytest.mark.parametrize(
    "text",
    [
        "What is the normal human body temperature in degrees Celsius?",
        "About 9.46 trillion km, or 1,000,000 units; e.g. 3.14. Don't stop_words matter?",
        "Section 12(b) of the 1998 Act: 2.5% - v2.0 - 12th covid19",
    ],
)
def test_ascii_text_tokenizes_as_it_would_among_other_scripts(text: str) -> None:
    # ASCII text takes a faster path; appending one non-ASCII word forces the general one
    assert tokenize(f"{text} é") == [*tokenize(text), "é"]


def test_words_are_counted_with_two_cjk_characters_as_one() -> None:
    assert count_words("Mars has two moons") == 4
    assert count_words("火星有两颗卫星。") == 4
    assert count_words("琉璃桥 is 480 m long, 全长四百八十米") == 5 + 4
