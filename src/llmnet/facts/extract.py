"""The facts a text states: quantities in canonical units, and key names.

    facts = extract_facts("It lasts thirty-five years.", question="How long does it last?")
    facts.quantities[0].value / YEAR_S   # 35.0 (stored in seconds)

What the question already says is left out: restating the question proves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from llmnet.facts.numbers import ZH_NUMERAL_CHARS, Number, find_numbers
from llmnet.facts.units import CLOCK_UNIT, NUMBER_UNIT, UNITS, YEAR_UNIT, Unit, prefix_unit, unit_at

#: how far, relative to its size, a value may differ and still be the same fact
RELATIVE_TOLERANCE = 0.001
YEAR_S = 365.25 * 86400


@dataclass(frozen=True)
class Quantity:
    """A number with what it measures: ``value`` in the ``unit`` canonical for ``dimension``
    (seconds, metres, grams, …), ``shown`` as written, ``text`` the words it came from."""

    value: float
    dimension: str
    unit: str
    shown: float
    tolerance: float
    text: str
    start: int = 0

    @property
    def unitless(self) -> bool:
        return self.dimension == "number"

    def matches(self, other: Quantity) -> bool:
        """The same fact: equal values in one dimension, within the rounding either was written
        with. A bare number matches any value it equals as written ("35" matches "35 years"),
        and the other way round ("4.2 days" matches "fell by 4.2 per month")."""
        if self.unitless or other.unitless:
            return _close(self.shown, other.shown, 0.0)
        if self.dimension == "date":
            return self.dimension == other.dimension and self.value == other.value
        rounding = max(self.tolerance, other.tolerance)
        return self.dimension == other.dimension and _close(self.value, other.value, rounding)

    def contradicts(self, other: Quantity) -> bool:
        """A different value for the same kind of thing (both unitless, or one dimension)."""
        return self.dimension == other.dimension and not self.matches(other)


def _close(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= max(tolerance, RELATIVE_TOLERANCE * max(abs(a), abs(b)), 1e-9)


def _is_year(number: Number, text: str) -> bool:
    written = text[number.start : number.end]
    return written.isdigit() and len(written) == 4 and 1000 <= number.value <= 2100


def _quantity(number: Number, unit: Unit, text: str, end: int) -> Quantity:
    # a value written with two or more significant digits may be a rounding: half its last digit
    rounding = 0.5 * number.step * unit.factor if number.digits >= 2 else 0.0
    return Quantity(unit.to_canonical(number.value), unit.dimension, unit.canonical, number.value,
                    rounding, text[number.start : end].strip(), number.start)  # fmt: skip


def quantities(text: str) -> list[Quantity]:
    """Every number in ``text`` with its unit, in reading order."""
    numbers = find_numbers(text)
    units = [_unit_of(number, text) for number in numbers]
    for i in range(len(numbers) - 2, -1, -1):  # "20 or 35 years", "36.1 to 37.2 °C": the unit is shared
        joined = _JOINED.fullmatch(text[numbers[i].end : numbers[i + 1].start])
        if units[i][0] is NUMBER_UNIT and units[i + 1][0] is not NUMBER_UNIT and joined:
            units[i] = (units[i + 1][0], numbers[i].end)
    return [_quantity(number, unit, text, end) for number, (unit, end) in zip(numbers, units, strict=True)]


_JOINED = re.compile(r"\s*(?:or|and|to|-|–|~|或|至|到|和)\s*", re.IGNORECASE)


def _unit_of(number: Number, text: str) -> tuple[Unit, int]:
    if number.percent:
        return UNITS["%"], number.end
    if number.clock:
        return CLOCK_UNIT, number.end
    before = prefix_unit(text, number.start)
    if before is not None:
        return before, number.end
    after = unit_at(text, number.end)
    year = _is_year(number, text)
    if after is not None:
        unit, end, form = after
        return (YEAR_UNIT if year and form == "年" else unit), end
    return (YEAR_UNIT if year else NUMBER_UNIT), number.end


# --- names ----------------------------------------------------------------------------------------

_STARTER_TEXT = (
    "a an the it its this that these those there here he she they we you i in on at of for by to from with as "
    "dr mr mrs ms prof professor sir yes no not sure answer according based however therefore approximately "
    "about around roughly nearly so what which who whom whose when where why how is are was were be do does did "
    "can could would should will and or but if then also only both each every all some many most one two three "
    "first second under after before during since until while although because following between among "
    "within without through across near over"
)
_STARTERS = frozenset(_STARTER_TEXT.split())
_CAPITALISED = re.compile(r"[A-Z][\w'’]*(?:[-\s]+(?:(?:of|de|la|van|von|der|du|al|da)\s+)?[A-Z][\w'’]*)*")
_CODE = re.compile(r"\b(?:[A-Za-z]+-?\d+[A-Za-z\d]*|\d+[A-Za-z]+\d*[A-Za-z]*)\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;。！？；\n\"'“(\[])\s*$")
# characters that join Chinese words rather than name things: split Han runs at them
ZH_FUNCTION = "的是了在和与及为约有以于其这那也都就而被把从到对吗呢吧啊即或并但谁哪么"
_HAN_CHAR = "[\u3400-\u4dbf\u4e00-\u9fff]"
_HAN = re.compile(rf"{_HAN_CHAR}(?:(?![{ZH_FUNCTION}{ZH_NUMERAL_CHARS}]){_HAN_CHAR})*")
UNIT_WORDS = frozenset(w for form in UNITS for w in form.split())
_ZH_UNIT_CHARS = frozenset(f for f in UNITS if len(f) == 1 and "\u4e00" <= f <= "\u9fff")


def key_names(text: str) -> list[str]:
    """Capitalised names not starting a sentence (or, starting one, after its opening words),
    codes such as "ZX-9", and runs of Han characters between function words and numerals."""
    names = [*_latin_names(text), *(m.group(0) for m in _CODE.finditer(text)), *_han_segments(text)]
    return list(dict.fromkeys(names))


def _latin_names(text: str) -> Iterable[str]:
    for m in _CAPITALISED.finditer(text):
        words = re.split(r"[-\s]+", m.group(0))
        if _SENTENCE_START.search(text[: m.start()]) or len(words) > 1:
            while words and words[0].lower() in _STARTERS:
                words = words[1:]
        name = " ".join(words)
        if name and name.lower() not in _STARTERS | UNIT_WORDS and not any(c.isdigit() for c in name):
            yield name


def _han_segments(text: str) -> Iterable[str]:
    for m in _HAN.finditer(text.replace("百分之", " ")):
        segment = m.group(0)
        while segment and (segment[0] in ZH_FUNCTION or segment[0] in ZH_NUMERAL_CHARS):
            segment = segment[1:]
        if segment and segment[0] in _ZH_UNIT_CHARS:
            segment = segment[1:]  # the unit of a number just before: 天, 年, 米 …
        if len(segment) >= 2:
            yield segment


def han_bigrams(text: str) -> set[str]:
    runs = re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff]+", text)
    return {run[i : i + 2] for run in runs for i in range(len(run) - 1)}


def name_in(name: str, text: str) -> bool:
    """``name`` is stated in ``text``: contained (ignoring case); for a name of several words,
    at least half of them are; for Chinese, at least half of its character pairs."""
    low, hay = name.lower(), text.lower()
    if low in hay:
        return True
    pairs = han_bigrams(name)
    if pairs:
        return len(pairs & han_bigrams(text)) * 2 >= len(pairs)
    words = low.split()
    return len(words) > 1 and sum(w in hay for w in words) * 2 >= len(words)


def _mostly_in(pairs: set[str], asked: set[str]) -> bool:
    return bool(pairs) and len(pairs & asked) * 2 >= len(pairs)  # an echo of the question, reworded


# --- facts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    quantities: tuple[Quantity, ...]
    names: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.quantities or self.names)


def extract_facts(text: str, question: str = "") -> Facts:
    """What ``text`` states beyond what ``question`` already says (of a name, the words the
    question does not have: "Elena Halvern" asked about Halvern is "Elena")."""
    asked = quantities(question)
    own = tuple(q for q in quantities(text) if not any(q.matches(a) for a in asked))
    asked_pairs = han_bigrams(question)
    asked_words = set(re.findall(r"\w+", question.lower()))
    names = []
    for name in key_names(text):
        if han_bigrams(name):
            if not _mostly_in(han_bigrams(name), asked_pairs):
                names.append(name)
            continue
        new = " ".join(w for w in name.split() if not set(re.findall(r"\w+", w.lower())) <= asked_words)
        if new:
            names.append(new)
    return Facts(own, tuple(dict.fromkeys(names)))
