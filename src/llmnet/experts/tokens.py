"""Word tokens shared by retrieval, domain classification and the reference judge, for any language.

The rules, in order:

1. Text is normalised with Unicode NFKC and case-folded (:func:`normalize_text`), so full-width
   forms, ligatures and case do not matter:

   >>> tokenize("ＡＢＣ Straße")
   ['abc', 'strasse']

2. Numbers stay whole with their decimal point; thousands separators are dropped:

   >>> tokenize("2.5 kg for 1,200 people, 3.14.")
   ['2.5', 'kg', '1200', 'people', '3.14']

3. Words of alphabetic scripts (Latin, Cyrillic, Greek, Arabic, Devanagari, …) are runs of
   Unicode letters, digits and combining marks, accents kept as NFKC composes them:

   >>> tokenize("Café Москва हिन्दी")
   ['café', 'москва', 'हिन्दी']

4. English stop words are dropped and English plurals folded (words of ASCII letters only):

   >>> tokenize("How many moons does Mars have?")
   ['moon', 'mar']

5. Runs of CJK characters (Han, Hiragana, Katakana, Hangul) have no spaces between words, so each
   run gives every single character and every overlapping pair of characters; a one-character
   word matches its character, a two-character word its pair:

   >>> tokenize("火星卫星")
   ['火', '火星', '星', '星卫', '卫', '卫星', '星']

6. Chinese function words are dropped: the words of :data:`CJK_STOP_WORDS` (such as 多少 or
   什么) are cut out of the run, and single characters of :data:`CJK_STOP_CHARS` (such as 的 or
   有) are dropped, as are pairs of two such characters. Chinese numerals stay as characters
   (reading them as numbers is not the tokenizer's job):

   >>> tokenize("火星有多少颗卫星？")
   ['火', '火星', '星', '星有', '颗', '颗卫', '卫', '卫星', '星']
   >>> tokenize("一百减去三十七")[:3]
   ['一', '一百', '百']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# Han (with 々 〆 〇), Hiragana, Katakana (without the ・ separator), Hangul syllables and jamo
CJK_CHARS = (
    "\u3005-\u3007\u3040-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff\U00020000-\U0003134f"
)


def _mark_ranges() -> str:
    # combining marks (vowel signs, harakat, …) belong to the word they sit on; Python's \w has none
    marks = [c for c in range(0x300, 0x10000) if unicodedata.category(chr(c)) in ("Mn", "Mc", "Me")]
    spans: list[list[int]] = []
    for code in marks:
        if spans and spans[-1][1] == code - 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in spans)


# Runs of letters and digits (with the combining marks inside them, which Python's \w leaves out),
# then any ".5" or ",000" parts: a run with a point or comma is a number or is cut into words after.
# One pattern without alternatives keeps the regex fast; ASCII text (most questions) needs even less.
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:[.,]\d+)*")
_WORD = re.compile(rf"[^\W_]+(?:[{_mark_ranges()}]+[^\W_]*)*(?:[.,]\d+)*")
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+")
_CJK_RUN = re.compile(f"([{CJK_CHARS}]+)")
_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")

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
#: Chinese particles, pronouns and question words (and a few Japanese particles), as single characters
CJK_STOP_CHARS = frozenset("的了是在和有吗呢吧啊呀么什哪这那个们与及或也都就被把之其请问" + "のはがをにでとも")
#: Chinese function words of two or more characters: cut out of a run of CJK characters
_CJK_STOP_WORDS_TEXT = "什么 为什么 多少 怎么 怎样 如何 为何 是否 可以 我们 你们 他们 一下 哪里 哪儿 哪些 哪个 请问"
CJK_STOP_WORDS = frozenset(_CJK_STOP_WORDS_TEXT.split())
_CJK_STOP_WORD = re.compile("|".join(sorted(CJK_STOP_WORDS, key=len, reverse=True)))


def normalize_text(text: str) -> str:
    """NFKC, case-folded, and NFKC again (folding can decompose, as ``"Ἀ"`` to ``"ἀ"`` + a mark):
    the form every token is taken from."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def tokenize(text: str) -> list[str]:
    """The terms of ``text`` by the rules above: ``tokenize("How many moons does Mars have?")``
    gives ``["moon", "mar"]``."""
    words = _ASCII_WORD.findall(text.lower()) if text.isascii() else _WORD.findall(normalize_text(text))
    terms: list[str] = []
    for word in words:
        if word in STOP_WORDS:
            continue
        if word.isalnum() and word.isascii():  # the common case, inlined
            terms.append(_fold(word))
        elif "." in word or "," in word:
            terms.extend(_number_terms(word))
        else:
            terms.extend(_word_terms(word))
    return terms


def _number_terms(word: str) -> list[str]:
    if _NUMBER.fullmatch(word):
        return [word.replace(",", "")]
    return [term for part in re.split(r"[.,]", word) for term in _word_terms(part)]


def _word_terms(word: str) -> list[str]:
    if word.isascii():
        return [] if word in STOP_WORDS else [_fold(word)]
    if not _CJK_CHAR.search(word):
        return [] if word in STOP_WORDS else [word]
    terms: list[str] = []
    for i, part in enumerate(_CJK_RUN.split(word)):  # odd parts are the CJK runs
        terms.extend(cjk_terms(part) if i % 2 else _word_terms(part) if part else [])
    return terms


def cjk_terms(run: str) -> list[str]:
    """Single characters and overlapping pairs of a run of CJK characters, function words dropped.

    >>> cjk_terms("星港的航线是什么")
    ['星', '星港', '港', '港的', '的航', '航', '航线', '线', '线是']
    """
    terms: list[str] = []
    for piece in _CJK_STOP_WORD.split(run):
        for i, char in enumerate(piece):
            if char not in CJK_STOP_CHARS:
                terms.append(char)
            pair = piece[i : i + 2]
            if len(pair) == 2 and not (pair[0] in CJK_STOP_CHARS and pair[1] in CJK_STOP_CHARS):
                terms.append(pair)
    return terms


def count_words(text: str) -> int:
    """Words for sizing text: whitespace-separated words, with every two CJK characters counting
    as one word (Chinese has no spaces, and a Chinese word is two characters on average).

    >>> count_words("Mars has two moons")
    4
    >>> count_words("火星有两颗卫星。Phobos 最大")
    6
    """
    cjk = len(_CJK_CHAR.findall(text))
    if not cjk:
        return len(text.split())
    return sum(1 for _ in _non_cjk_words(text)) + (cjk + 1) // 2


def _non_cjk_words(text: str) -> Iterator[str]:
    for word in _CJK_CHAR.sub(" ", text).split():
        if any(ch.isalnum() for ch in word):
            yield word


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
