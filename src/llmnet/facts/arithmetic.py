"""Arithmetic questions answered without a model, and without ``eval``.

A question is arithmetic when, apart from a few framing words ("What is", "计算", "等于多少"),
it is numbers joined by operators: + - × ÷, plus minus times "divided by", "% of", and their
Chinese forms (加 减去 乘以 除以 的百分之)::

    solve("What is 12 times 12?")     # 144.0
    solve("15% of 80")                # 12.0
    solve("一百减去三十七等于多少？")   # 63.0
    solve("How far is the Moon?")     # None
"""

from __future__ import annotations

import itertools
import math
import re

from llmnet.facts.numbers import Number, find_numbers

_OPERATORS: tuple[tuple[str, str], ...] = (
    ("pct", r"(?:%|％|percent|per\s+cent)\s*(?:of|的)|的"),
    ("add", r"\+|plus|and|added\s+to|加上?|与|和"),
    ("sub", r"-|−|–|minus|less|take\s+away|减去?"),
    ("mul", r"[×xX*·]|times|multiplied\s+by|乘以?"),
    ("div", r"[÷/]|divided\s+by|over|除以"),
    ("from", r"from"),
)
_FRAMING = re.compile(
    r"\b(?:what'?s|what|is|are|calculate|compute|how|much|the|sum|product|difference|between|of|subtract|add|"
    r"multiply|divide|please|equals?|to|result|answer)\b|计算|请|求|等于|多少|几|是|结果|一下|\s|[?？.。,，:：=]",
    re.IGNORECASE,
)


def _operator(between: str, second: Number) -> str | None:
    text = between.strip().lower()
    if second.percent and text in ("的", "of"):
        return "pct"
    for name, pattern in _OPERATORS:
        if re.fullmatch(pattern, text, re.IGNORECASE):
            return name
    return None


def _framing_only(text: str) -> bool:
    return not _FRAMING.sub("", text)


def parse(question: str) -> tuple[list[float], list[str]] | None:
    """The numbers and the operators between them, or None if ``question`` is not arithmetic."""
    numbers = find_numbers(question)
    if len(numbers) < 2 or not _framing_only(question[: numbers[0].start]):
        return None
    tail = question[numbers[-1].end :]
    if not _framing_only(tail.replace("%", "").replace("％", "")):
        return None
    ops = []
    for first, second in itertools.pairwise(numbers):
        op = _operator(question[first.end : second.start], second)
        if op is None:
            return None
        ops.append(op)
    values = [n.value for n in numbers]
    if numbers[-1].percent or tail.strip().startswith(("%", "％")):
        values[-1] /= 100  # "80 的百分之十五", "80 × 15%"
        ops = ["mul" if op == "pct" else op for op in ops]
    return values, ops


_POWERS = (
    (re.compile(r"square\s+root\s+of\s+(?P<n>\S+)|(?P<m>\S+?)的平方根", re.I), math.sqrt),
    (re.compile(r"(?P<n>\S+)\s+squared|(?P<m>\S+?)的平方", re.I), lambda x: x * x),
    (re.compile(r"(?P<n>\S+)\s+cubed|(?P<m>\S+?)的立方", re.I), lambda x: x**3),
)


def _power(question: str) -> float | None:
    """ "the square root of 169", "7 cubed", "12 squared", "九的平方" """
    for pattern, apply in _POWERS:
        m = pattern.search(question)
        if m is None or not _framing_only(question[: m.start()] + question[m.end() :]):
            continue
        numbers = find_numbers(m.group("n") or m.group("m"))
        if len(numbers) == 1 and numbers[0].value >= 0:
            return float(apply(numbers[0].value))
    return None


def solve(question: str) -> float | None:
    """The value of an arithmetic question; None when it is not one (or divides by zero)."""
    power = _power(question)
    if power is not None:
        return power
    parsed = parse(question)
    if parsed is None:
        return None
    values, ops = parsed
    if ops == ["from"]:  # "subtract 5 from 20"
        return values[1] - values[0]
    if "from" in ops:
        return None
    if "add" in ops and _says(question, "product"):
        ops = ["mul" if op == "add" else op for op in ops]
    if ops == ["add"] and _says(question, "difference"):
        ops = ["sub"]
    return _evaluate(values, ops)


def _says(question: str, word: str) -> bool:
    return word in question.lower()


def _evaluate(values: list[float], ops: list[str]) -> float | None:
    """× ÷ and "% of" first, then + and -, left to right."""
    terms, signs = [values[0]], []
    for op, value in zip(ops, values[1:], strict=True):
        if op in ("mul", "div", "pct"):
            if op == "div" and value == 0:
                return None
            last = terms.pop()
            terms.append(last * value if op == "mul" else last / value if op == "div" else last * value / 100)
        else:
            terms.append(value)
            signs.append(op)
    total = terms[0]
    for sign, term in zip(signs, terms[1:], strict=True):
        total = total + term if sign == "add" else total - term
    return total
