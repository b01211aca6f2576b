"""Facts from text: numbers as people write them, units in canonical form, names, arithmetic."""

from __future__ import annotations

import pytest

from llmnet.facts.arithmetic import solve
from llmnet.facts.extract import YEAR_S, Quantity, extract_facts, key_names, name_in, quantities
from llmnet.facts.numbers import find_numbers, words_value, zh_value

DAY_S = 86400.0

# text, (value in canonical units, dimension) of its only quantity
ONE_QUANTITY = [
    # digits, separators, decimals, scale words
    ("2,500 metres", 2500.0, "length"),
    ("2.5 km", 2500.0, "length"),
    ("1,000,000 people", 1e6, "people"),
    ("9.46 × 10^12 km", 9.46e15, "length"),
    ("3 x 10⁶ m", 3e6, "length"),
    ("9.5 trillion kilometres", 9.5e15, "length"),
    ("$5 million", 5e6, "money"),
    ("1.5万", 15000.0, "number"),
    ("3亿", 3e8, "number"),
    ("4.1万亩", 41000 * 666.67, "area"),
    # English number words
    ("thirty-five years", 35 * YEAR_S, "time"),
    ("one thousand two hundred grams", 1200.0, "mass"),
    ("a dozen eggs", 12.0, "number"),
    ("twenty-three elected members", 23.0, "number"),
    ("a hundred and five days", 105 * DAY_S, "time"),
    ("two weeks", 14 * DAY_S, "time"),
    # Chinese numerals
    ("三十五年", 35 * YEAR_S, "time"),
    ("一千二百人", 1200.0, "people"),
    ("两百米", 200.0, "length"),
    ("十二天", 12 * DAY_S, "time"),
    ("三点五公里", 3500.0, "length"),
    ("一千零五克", 1005.0, "mass"),
    ("146千米", 146000.0, "length"),
    ("三亿五千万", 3.5e8, "number"),
    # percent, in every spelling
    ("8%", 8.0, "percent"),
    ("8 percent", 8.0, "percent"),
    ("8 per cent", 8.0, "percent"),
    ("百分之八", 8.0, "percent"),
    ("百分之三十五", 35.0, "percent"),
    ("８％", 8.0, "percent"),
    # units and conversions within a dimension
    ("250 mg", 0.25, "mass"),
    ("1.5 kg", 1500.0, "mass"),
    ("500 ml", 0.5, "volume"),
    ("2 litres", 2.0, "volume"),
    ("500毫升", 0.5, "volume"),
    ("90 minutes", 5400.0, "time"),
    ("2 hours", 7200.0, "time"),
    ("3小时", 10800.0, "time"),
    ("45分钟", 2700.0, "time"),
    ("37.6 °C", 37.6, "temperature"),
    ("110℃", 110.0, "temperature"),
    ("98.6 °F", 37.0, "temperature"),
    ("412 square kilometres", 412e6, "area"),
    ("27 megawatts", 27e6, "power"),
    ("160 km/h", 160 / 3.6, "speed"),
    # years as dates
    ("in 1962", 1962.0, "date"),
    ("1978年", 1978.0, "date"),
]


@pytest.mark.parametrize(("text", "value", "dimension"), ONE_QUANTITY)
def test_a_quantity_is_read_in_canonical_units(text: str, value: float, dimension: str) -> None:
    [q] = quantities(text)
    assert q.dimension == dimension
    assert q.value == pytest.approx(value, rel=1e-6)


# the near-miss shapes: a right answer written another way, and a wrong number with the right unit
SAME_FACT = [
    ("35 years", "thirty-five years"),
    ("8 percent", "8 %"),
    ("8 percent", "百分之八"),
    ("2.5 km", "2,500 metres"),
    ("85米", "八十五米"),
    ("3,200 metres", "三千二百米"),
    ("12 days", "twelve days"),
    ("37 °C", "98.6 °F"),
    ("9.46 trillion km", "9.5 trillion kilometres"),  # a rounding of the same value
    ("1,860", "1,860 adults"),  # a bare number matches the value as written
    ("2 weeks", "14 days"),
]
DIFFERENT_FACT = [
    ("35 years", "20 years"),
    ("8 percent", "20 %"),
    ("12 days", "14 days"),
    ("38.4 °C", "37 °C"),
    ("85米", "六十米"),
    ("2.4 km", "2 km"),  # one significant digit is not a rounding of 2.4
    ("1896", "1898"),  # years are exact
    ("4.3万亩", "4.1万亩"),
]


@pytest.mark.parametrize(("a", "b"), SAME_FACT)
def test_the_same_fact_written_two_ways_matches(a: str, b: str) -> None:
    [qa], [qb] = quantities(a), quantities(b)
    assert qa.matches(qb) and qb.matches(qa)
    assert not qa.contradicts(qb)


@pytest.mark.parametrize(("a", "b"), DIFFERENT_FACT)
def test_another_value_of_the_same_kind_contradicts(a: str, b: str) -> None:
    [qa], [qb] = quantities(a), quantities(b)
    assert not qa.matches(qb)
    assert qa.contradicts(qb)


def test_values_of_different_kinds_neither_match_nor_contradict() -> None:
    [days], [metres] = quantities("12 days"), quantities("12 metres")
    assert not days.matches(metres) and not days.contradicts(metres)


def test_a_hedge_states_two_values_of_one_kind() -> None:
    assert [q.value for q in quantities("either 20 or 35 years")] == [20 * YEAR_S, 35 * YEAR_S]
    assert [q.value for q in quantities("110℃或80℃")] == [110.0, 80.0]


@pytest.mark.parametrize(
    ("phrase", "value"),
    [("thirty-five", 35), ("one thousand two hundred", 1200), ("a dozen", 12), ("half", 0.5), ("nine", 9)],
)
def test_number_words(phrase: str, value: float) -> None:
    assert words_value(phrase) == value


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("三十五", 35),
        ("一千二百", 1200),
        ("两百", 200),
        ("十五", 15),
        ("三点五", 3.5),
        ("一九六二", 1962),
        ("一万", 1e4),
    ],
)
def test_chinese_numerals(numeral: str, value: float) -> None:
    assert zh_value(numeral) == value


def test_words_that_are_not_quantities_are_left_alone() -> None:
    assert find_numbers("one of the moons") == []
    assert find_numbers("统一的一种方法") == []  # 一 inside words
    assert find_numbers("两地相距") == []
    assert [n.value for n in find_numbers("COVID-19 spread")] == [19.0]


def test_the_question_s_own_numbers_and_names_are_not_facts_of_the_answer() -> None:
    facts = extract_facts("12 times 12 is 144", question="What is 12 times 12?")
    assert [q.shown for q in facts.quantities] == [144.0]
    facts = extract_facts("Mira Tolsen described Zarnak fever.", question="Who described Zarnak fever?")
    assert facts.names == ("Mira Tolsen",)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("The Zarnak Institute was founded by Mira Tolsen in 1962.", ["Zarnak Institute", "Mira Tolsen"]),
        ("Mira Tolsen.", ["Mira Tolsen"]),
        ("According to the documents, it was Dr. Elena Voss.", ["Elena Voss"]),
        ("It boils at 100 degrees Celsius.", []),
        ("The trains are the Class 40 Kestrel.", ["Class", "Kestrel"]),
        ("泽塔病毒的潜伏期约为十二天。", ["泽塔病毒", "潜伏期"]),
    ],
)
def test_key_names(text: str, names: list[str]) -> None:
    assert key_names(text) == names


def test_chinese_names_match_by_character_pairs() -> None:
    assert name_in("林慧娘", "首任场长是林慧娘。")
    assert name_in("任场长由林慧娘担任", "首任场长是林慧娘。")  # half of its pairs are there
    assert not name_in("王大明", "首任场长是林慧娘。")
    assert name_in("mira tolsen", "described by Mira Tolsen")


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("What is 12 times 12?", 144),
        ("15% of 80", 12),
        ("What is 15 percent of 200?", 30),
        ("一百减去三十七等于多少？", 63),
        ("80的百分之十五是多少？", 12),
        ("What is 7 + 5 × 2?", 17),
        ("What is the difference between 20 and 5?", 15),
        ("subtract 5 from 20", 15),
        ("What is 100 divided by 8?", 12.5),
        ("What is twelve times twelve?", 144),
        ("三乘以四", 12),
        ("What is the square root of 169?", 13),
        ("What is 7 cubed?", 343),
        ("九的平方是多少？", 81),
    ],
)
def test_arithmetic_is_computed(question: str, value: float) -> None:
    assert solve(question) == pytest.approx(value)


@pytest.mark.parametrize(
    "question",
    [
        "How far is the Moon?",
        "In 1962 and 1970 what happened?",
        "What is the history of 12 and 13?",
        "How many moons does Mars have? 2 or 3",
        "What is 5 divided by 0?",
    ],
)
def test_questions_that_are_not_arithmetic_have_no_value(question: str) -> None:
    assert solve(question) is None


def test_a_quantity_keeps_its_words() -> None:
    [q] = quantities("It lasts thirty-five years.")
    assert isinstance(q, Quantity) and q.text == "thirty-five years" and q.shown == 35.0


@pytest.mark.parametrize(
    ("text", "minutes"), [("at 7:00 a.m.", 420.0), ("10:30 pm", 1350.0), ("23:59", 1439.0), ("12:15 a.m.", 15.0)]
)
def test_times_of_day_are_one_value(text: str, minutes: float) -> None:
    [q] = quantities(text)
    assert q.dimension == "clock" and q.value == minutes
