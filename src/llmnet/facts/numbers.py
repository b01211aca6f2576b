"""Numbers as people write them, found in text with their positions.

Digits ("2,500", "9.46", "1.5万", "3 × 10^6"), English number words ("thirty-five",
"one thousand two hundred", "a dozen", "half") and Chinese numerals ("三十五", "一千二百",
"两百", "百分之八") all become a :class:`Number`::

    [n.value for n in find_numbers("thirty-five years, or 1.5万 people")]  # [35.0, 15000.0]

Each number knows how precisely it was written (``step``: what one unit of its last digit is
worth), so "9.5 trillion" can be read as a rounding of 9.46 trillion while "2" is not 2.4.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Number:
    value: float
    start: int
    end: int
    step: float = 1.0  # the worth of one unit in the last written digit
    digits: int = 1  # significant digits written
    percent: bool = False  # written as a share ("百分之八")
    clock: bool = False  # a time of day ("7:05", "7:05 p.m."), in minutes after midnight


# --- digits ---------------------------------------------------------------------------------------

SCALES = {
    "hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
    "百": 1e2, "千": 1e3, "万": 1e4, "十万": 1e5, "百万": 1e6, "千万": 1e7, "亿": 1e8, "万亿": 1e12,
}  # fmt: skip
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_SCALE_WORD = "|".join(sorted((re.escape(s) for s in SCALES), key=len, reverse=True))
_DIGITS = re.compile(
    r"(?<![A-Za-z0-9_.,])(?P<sign>[-−](?=\d))?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?(?![\d])"
    r"(?:\s*[×xX*]\s*10\s*(?:\^|\*\*)?\s*(?P<exp>[-−]?\d+|[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)|[eE](?P<e>[-+]?\d+)\b)?"
    rf"(?:\s*(?P<scale>{_SCALE_WORD})(?![a-zA-Z]))?"
)


def _digit_numbers(text: str) -> Iterator[Number]:
    for m in _DIGITS.finditer(text):
        whole = m.group("int").replace(",", "")
        frac = m.group("frac") or ""
        value = float(f"{whole}.{frac}" if frac else whole)
        step = 10.0 ** -len(frac)
        significant = len((whole + frac).lstrip("0")) or 1
        if not frac and "," not in m.group("int"):
            significant = len(whole.rstrip("0")) or 1  # "2500": its trailing zeros may be rounding
        exponent = m.group("exp") or m.group("e")
        scale = 10.0 ** int(exponent.translate(_SUPERSCRIPT).replace("−", "-")) if exponent else 1.0
        scale *= SCALES[m.group("scale")] if m.group("scale") else 1.0
        sign = -1.0 if m.group("sign") else 1.0
        yield Number(sign * value * scale, m.start(), m.end(), step * scale, significant)


# --- English words --------------------------------------------------------------------------------

_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
_UNITS += " seventeen eighteen nineteen"
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
WORD_VALUES = {w: float(i) for i, w in enumerate(_UNITS.split())} | {
    w: float(20 + 10 * i) for i, w in enumerate(_TENS.split())
}
_MULTIPLIERS = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "dozen": 12.0}
_FRACTIONS = {"half": 0.5, "quarter": 0.25}
_WORD = "|".join([*WORD_VALUES, *_MULTIPLIERS, *_FRACTIONS])
_WORDS = re.compile(rf"\b(?:an?\s+)?(?:{_WORD})(?:(?:\s+and\s+an?\s+|\s+and\s+|[\s-]+)(?:{_WORD}))*\b", re.IGNORECASE)


def words_value(phrase: str) -> float | None:
    """``words_value("one thousand two hundred")`` is 1200.0; None if the words make no number."""
    total, current, seen = 0.0, 0.0, False
    for word in re.split(r"[\s-]+", phrase.lower()):
        if word in ("a", "an", "and"):
            continue
        if word in WORD_VALUES:
            current, seen = current + WORD_VALUES[word], True
        elif word in _FRACTIONS:
            current, seen = current + _FRACTIONS[word], True
        elif word in ("hundred", "dozen"):
            current, seen = (current or 1.0) * _MULTIPLIERS[word], True
        elif word in _MULTIPLIERS:
            total, current, seen = total + (current or 1.0) * _MULTIPLIERS[word], 0.0, True
    return total + current if seen else None


def _word_numbers(text: str) -> Iterator[Number]:
    for m in _WORDS.finditer(text):
        phrase = m.group(0)
        value = words_value(phrase)
        if value is None or _lone_one(phrase, text, m.end()):
            continue
        digits = len(str(int(value)).rstrip("0")) or 1
        yield Number(value, m.start(), m.end(), 1.0 if value >= 1 else 0.05, digits)


def _lone_one(phrase: str, text: str, end: int) -> bool:
    # "one of the moons", "a half-truth": words that are rarely a stated quantity
    return phrase.lower() in ("one", "half", "quarter") and text[end : end + 4].lower() in (" of ", "-tru")


# --- Chinese numerals -----------------------------------------------------------------------------

ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_SMALL = {"十": 10, "百": 100, "千": 1000}
_ZH_BIG = {"万": 10**4, "亿": 10**8}
ZH_NUMERAL_CHARS = "".join([*ZH_DIGITS, *_ZH_SMALL, *_ZH_BIG, "点"])
_ZH = re.compile(rf"(?P<pct>百分之)?(?P<num>[{ZH_NUMERAL_CHARS}]+|\d+(?:\.\d+)?)")


def zh_value(numeral: str) -> float | None:
    """``zh_value("一千二百")`` is 1200.0, ``zh_value("三点五")`` 3.5, ``zh_value("一九六二")`` 1962.0."""
    whole, _, frac = numeral.partition("点")
    if any(c not in ZH_DIGITS for c in frac):
        return None
    value = _zh_integer(whole) if whole else 0.0
    if value is None:
        return None
    return value + (float("0." + "".join(str(ZH_DIGITS[c]) for c in frac)) if frac else 0.0)


def _zh_integer(text: str) -> float | None:
    if len(text) > 1 and all(c in ZH_DIGITS for c in text):
        return float("".join(str(ZH_DIGITS[c]) for c in text))  # read digit by digit: 一九六二
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in ZH_DIGITS:
            digit = ZH_DIGITS[ch]
        elif ch in _ZH_SMALL:
            section += (digit or 1) * _ZH_SMALL[ch]
            digit = 0
        elif ch == "万":
            total += (section + digit or 1) * 10**4
            section = digit = 0
        elif ch == "亿":
            total = (total + section + digit or 1) * 10**8
            section = digit = 0
        else:
            return None
    return float(total + section + digit)


def _zh_numbers(text: str) -> Iterator[Number]:
    for m in _ZH.finditer(text):
        numeral = m.group("num")
        percent = m.group("pct") is not None
        if numeral[0].isdigit():
            if percent:
                yield Number(float(numeral), m.start(), m.end(), 1.0, len(numeral), percent=True)
            continue
        value = zh_value(numeral) if numeral[0] in ZH_DIGITS or numeral[0] == "十" else None
        if value is None or (numeral in "一两" and not percent and not _zh_unit_follows(text, m.end())):
            continue  # a lone 一 or 两 is usually part of a word (一种, 统一, 两地), not a quantity
        frac = numeral.partition("点")[2]
        digits = len(str(int(value)).rstrip("0")) + len(frac) or 1
        yield Number(value, m.start(), m.end(), 10.0 ** -len(frac), digits, percent)


def _zh_unit_follows(text: str, end: int) -> bool:
    from llmnet.facts.units import unit_at

    return unit_at(text, end) is not None


# --- times of day -------------------------------------------------------------------------------

_CLOCK = re.compile(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])(?:\s*([ap])\.?\s?m\.?(?![a-z]))?", re.IGNORECASE)


def _clock_times(text: str) -> Iterator[Number]:
    for m in _CLOCK.finditer(text):
        hours = int(m.group(1)) % 12 + (12 if (m.group(3) or "").lower() == "p" else 0)
        hours = int(m.group(1)) if m.group(3) is None else hours
        yield Number(float(hours * 60 + int(m.group(2))), m.start(), m.end(), 1.0, 3, clock=True)


# --- all of them ----------------------------------------------------------------------------------


def find_numbers(text: str) -> list[Number]:
    """Every number in ``text`` in reading order; where forms overlap, the one starting first
    (then the longer) wins."""
    found = [*_clock_times(text), *_digit_numbers(text), *_word_numbers(text), *_zh_numbers(text)]
    found.sort(key=lambda n: (n.start, -n.end))
    kept: list[Number] = []
    for number in found:
        if not kept or number.start >= kept[-1].end:
            kept.append(number)
    return kept
