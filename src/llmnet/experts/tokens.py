"""Word tokens shared by retrieval and domain classification: lower-cased, stop words dropped,
plurals folded (``"Planets"`` and ``"planet"`` are the same token)."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")

_STOP_WORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your yours yourself
    yourselves many much get gets called
    """
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def tokenize(text: str) -> list[str]:
    """``tokenize("How many moons does Mars have?")`` gives ``["moon", "mar"]``."""
    return [_fold(word) for word in _WORD.findall(text.lower()) if word not in STOP_WORDS]


def _fold(word: str) -> str:
    # A tiny plural folder rather than a full stemmer: predictable, and enough for short questions.
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word
