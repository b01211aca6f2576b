"""Supervised examples made from a knowledge folder: questions its documents answer, with grounded answers.

    examples = sft_examples(Path("knowledge/isle-of-varn"))
    examples[0].messages[-1].content  # "Answer the question from these facts … Question: When was … completed?"
    examples[0].answer                # "1958: The South Varn Dam was completed in 1958."

Every sentence that states a fact gives questions: the fact (a number with its unit, a year, a name) is
replaced by the wh-phrase that asks for it, in two forms — the sentence as a question ("The dam is how many
metres high?") and, when the sentence has a plain subject and verb, the fronted forms ("How many metres is
the dam high?", and "How high is the dam?" for a measure). A sentence that starts with "It" or "Its" is
about what the sentence before named, so the question names it. A Chinese sentence is asked whole (up to
the clause of its fact when long); a number becomes ``多少`` with its unit, a year ``哪一年``, and a name
after ``是``/``为`` becomes ``什么``. The answer is the clause (or Chinese sentence) that states the fact,
and the example teaches it led by the fact itself (:meth:`FactQuestion.taught`).

The prompt of each example is exactly what a serving :class:`~llmnet.experts.expert.ExpertBackend` sends
its model for that question (its own retrieval run on the generated question), so training shows the model
the evidence serving will show it — including the times retrieval picks the wrong sentence, where the
answer teaches the fact itself. Everything is deterministic: ``seed`` only orders the examples.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from llmnet.backends.base import Backend, ChatMessage, Chunk, GenerationRequest
from llmnet.errors import BackendError
from llmnet.experts.expert import ExpertBackend
from llmnet.experts.knowledge import KnowledgeBase, Passage
from llmnet.facts.evidence import split_sentences
from llmnet.facts.extract import Quantity, key_names, quantities
from llmnet.facts.numbers import WORD_VALUES
from llmnet.facts.units import YEAR_UNIT

#: a clause longer than this (in words, or CJK characters / 2) makes a question too long to be natural
MAX_CLAUSE_WORDS = 28
_AUX = re.compile(r"^(?P<subject>[A-Z][^,;]{2,60}?) (?P<aux>is|was|are|were|has|had|have|can|will) (?P<rest>.+)$")
_REFERS_BACK = re.compile(r"^(It|Its|They|Their)\b")
# a clause ends before ", and …", "; …" or "and" with a second verb ("… is 79 km long and lets …")
_CLAUSE_END = re.compile(
    r",\s+(?=(?:and|but|while|which|where|whose|is|was|are|were|has|had)\b)|;\s*|\s+(?=and\s+[a-z]+(?:s|ed)\s)"
)
_ZH_CLAUSE = re.compile(r"(?<=[，：])")
_ZH_NAME = re.compile(r"^(?P<ask>.{2,}?(?:是|为))(?P<name>[\u4e00-\u9fff]{2,6})$")
_HAN = re.compile(r"[\u3400-\u9fff]")
_ADJECTIVE = re.compile(r"^ [a-z]")
# "58 metres high" is also asked "How high is …?"
_MEASURE = re.compile(r"^ (high|tall|long|deep|wide|old|thick|heavy)\b")
_SCALE_WORDS = frozenset({"a", "an", "and", "hundred", "thousand", "million", "billion", "dozen"})
_PERSON_CUE = re.compile(r"\b(?:by|engineer|founder|chairman|director|named after|led by|designed by)\s+$", re.I)


@dataclass(frozen=True)
class FactQuestion:
    """A question a sentence answers, and that sentence's fact as a short answer."""

    question: str
    answer: str
    source: str  # the passage id, e.g. "dams_and_power.md#1"
    fact: str = ""  # what the question asks for, as the sentence writes it: "58 metres", "1962", "the Tallow"

    def taught(self) -> str:
        """The answer a model is trained to give: the fact first, then the clause that states it
        ("1962: The North Varn Dam was completed in 1962."). Leading with the fact makes the model find
        it in the evidence before it writes anything, rather than turn the question into a statement and
        guess the blank; the clause after it is the grounding a reader and a validator check."""
        if not self.fact:
            return self.answer
        lead = self.fact[:1].upper() + self.fact[1:]
        return lead + ("：" if _HAN.search(self.answer) else ": ") + self.answer


@dataclass(frozen=True)
class SftExample:
    """One supervised example: the prompt a serving expert sends its model, and the answer to learn."""

    messages: tuple[ChatMessage, ...]
    answer: str
    source: str


def sft_examples(folder: Path, *, seed: int = 0, held_out: Collection[str] = ()) -> list[SftExample]:
    """Every question the documents of ``folder`` answer, prompted as the expert serving them prompts;
    none equal to a ``held_out`` question (a test set's), compared by :func:`normalised_question`."""
    knowledge = KnowledgeBase.from_folder(folder)
    expert = ExpertBackend(_PromptOnly(), knowledge)
    kept_out = {normalised_question(q) for q in held_out}
    examples = [
        SftExample(serving_prompt(expert, fact.question), fact.taught(), fact.source)
        for fact in folder_questions(knowledge)
        if normalised_question(fact.question) not in kept_out
    ]
    random.Random(seed).shuffle(examples)
    return examples


def serving_prompt(expert: ExpertBackend, question: str) -> tuple[ChatMessage, ...]:
    """The messages ``expert`` gives its inner model when a requester asks ``question``."""
    request = GenerationRequest.from_prompt(question)
    return expert.grounded(request, expert.retrieve(request)).messages


def folder_questions(knowledge: KnowledgeBase) -> list[FactQuestion]:
    """Questions of every passage, each question once (the first passage that makes it keeps it)."""
    seen: set[str] = set()
    out = []
    for fact in (f for passage in knowledge.passages for f in passage_questions(passage)):
        key = normalised_question(fact.question)
        if key not in seen:
            seen.add(key)
            out.append(fact)
    return out


def normalised_question(question: str) -> str:
    """Lower case, letters, digits and Han characters only: how two questions are compared."""
    return "".join(re.findall(r"[0-9a-z\u3400-\u9fff]+", question.lower()))


def passage_questions(passage: Passage) -> list[FactQuestion]:
    """The questions each sentence of ``passage`` answers, in reading order."""
    out: list[FactQuestion] = []
    subject = ""
    for sentence in split_sentences(passage.text):
        if _HAN.search(sentence):
            pairs = zh_questions(sentence)
        else:
            pairs = en_questions(with_subject(sentence, subject))
            subject = sentence_subject(sentence) or subject
        out += [FactQuestion(q, a, passage.id, f) for q, a, f in pairs]
    return out


# --- English --------------------------------------------------------------------------------------


def sentence_subject(sentence: str) -> str:
    """The name a sentence is about: its first name (with "the" when the sentence writes it so)."""
    if _REFERS_BACK.match(sentence):
        return ""
    names = key_names(sentence)
    if not names:
        return ""
    name = names[0]
    return f"the {name}" if re.search(rf"\bthe {re.escape(name)}", sentence, re.I) else name


def with_subject(sentence: str, subject: str) -> str:
    """``sentence`` with a leading "It"/"Its"/"They"/"Their" replaced by the name it stands for."""
    found = _REFERS_BACK.match(sentence)
    if not found or not subject:
        return sentence
    named = subject[0].upper() + subject[1:]
    own = named + ("'s" if found.group(1) in ("Its", "Their") else "")
    return own + sentence[found.end() :]


def en_questions(sentence: str) -> list[tuple[str, str, str]]:
    """(question, answer, fact) for every number and name ``sentence`` states."""
    pairs: list[tuple[str, str, str]] = []
    for start, end, wh in en_facts(sentence):
        clause = clause_around(sentence, start, end)
        if clause is None or len(clause.split()) > MAX_CLAUSE_WORDS:
            continue
        answer = clause.rstrip(" .,;:") + "."
        asked = " ".join((clause[:start] + wh + clause[end:]).split()).rstrip(" .,;:")
        fact = re.sub(r"^(in|since|by|until|from) ", "", clause[start:end])
        pairs.append((_capitalise(asked) + "?", answer, fact))
        measured = _MEASURE.match(clause[end:]) if wh.startswith("how many") else None
        for fronted in (
            fronted_question(clause, start, end, wh),
            measured and fronted_question(clause, start, end + measured.end(), f"how {measured.group(1)}"),
        ):
            if fronted:
                pairs.append((fronted, answer, fact))
    return pairs


def en_facts(sentence: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, wh-phrase) of each fact: numbers with their units, years, then names."""
    taken: list[tuple[int, int]] = []
    for q in quantities(sentence):
        span = (q.start, q.start + len(q.text))
        if sentence[span[0] : span[1]] != q.text:
            continue
        taken.append(span)
        yield _year(sentence, span) if q.unit == YEAR_UNIT.canonical else (*span, _wh(q))
    for name in key_names(sentence):
        at = sentence.find(name)
        if at < 0 or any(a < at + len(name) and at < b for a, b in taken) or sentence[:at].endswith('"'):
            continue
        the = sentence[:at].lower().endswith("the ")
        if _ADJECTIVE.match(sentence[at + len(name) :]):  # "the Tallow river": which river; "Varnic poet": none
            if the:
                yield at - 4, at + len(name), "which"
            continue
        wh = "who" if not the and len(name.split()) > 1 and _PERSON_CUE.search(sentence[:at]) else "what"
        yield (at - 4 if the else at), at + len(name), wh


def _year(sentence: str, span: tuple[int, int]) -> tuple[int, int, str]:
    """A year with the preposition before it ("in 1958" is asked "in what year")."""
    before = re.search(r"\b(in|since|by|until|from)\s+$", sentence[: span[0]])
    if before is None:
        return span[0], span[1], "what year"
    return before.start(), span[1], f"{before.group(1)} what year"


def _wh(q: Quantity) -> str:
    unit = " ".join(w for w in q.text.replace(",", "").split() if not _is_number_word(w))
    if q.unit == "%" or unit in ("percent", "per cent", "%"):
        return "what percentage"
    return f"how many {unit}" if unit and not unit[0].isdigit() else "how many"


def _is_number_word(word: str) -> bool:
    low = word.lower()
    parts = low.split("-")
    return bool(re.fullmatch(r"[\d.]+", low)) or low in _SCALE_WORDS or all(p in WORD_VALUES for p in parts)


def clause_around(sentence: str, start: int, end: int) -> str | None:
    """The sentence from its start to the end of the clause that holds ``start:end``."""
    cut = next((m.start() for m in _CLAUSE_END.finditer(sentence) if m.start() >= end), len(sentence))
    return sentence[:cut] if start < cut else None


def fronted_question(clause: str, start: int, end: int, wh: str) -> str | None:
    """The question with its wh-phrase first: "When was the dam completed?" from "The dam was completed in 1958."."""
    found = _AUX.match(clause)
    if not found or start < found.start("rest") or re.search(r"[,;]", clause[found.start("rest") :]):
        return None
    rest = " ".join((clause[found.start("rest") : start] + clause[end:]).split()).strip(" .")
    wh = "when" if wh == "in what year" else wh
    subject = found.group("subject")
    subject = subject[0].lower() + subject[1:] if subject.startswith(("The ", "A ", "An ")) else subject
    return f"{_capitalise(wh)} {found.group('aux')} {subject} {rest}".rstrip() + "?"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- Chinese --------------------------------------------------------------------------------------


def zh_questions(sentence: str) -> list[tuple[str, str, str]]:
    """(question, answer) pairs for the numbers and ``是``/``为`` names of a Chinese sentence: the whole
    sentence asked and answered, or, when it is long, the sentence up to the clause of the fact."""
    pairs: list[tuple[str, str, str]] = []
    body = sentence.rstrip("。！？；")
    clauses = _ZH_CLAUSE.split(body)
    for i, clause in enumerate(clauses):
        head = "".join(clauses[:i])
        own = clause.rstrip("，：")
        tail = "".join(clauses[i + 1 :]) if len(body) <= 2 * MAX_CLAUSE_WORDS else ""
        gap = clause[len(own) :] if tail else ""
        answer = head + own + gap + tail + "。"
        pairs += [(head + asked + gap + tail + "？", answer, fact) for asked, fact in zh_asked(own)]
    return pairs


def zh_asked(clause: str) -> Iterator[tuple[str, str]]:
    """``clause`` with each of its facts replaced by the question word for it, and that fact."""
    for q in quantities(clause):
        at = clause.find(q.text, q.start)
        if at < 0:
            continue
        unit = re.sub(r"^[\d.,]+|^[零〇一二两三四五六七八九十百千点]+", "", q.text)
        after = clause[at + len(q.text) :]
        if q.unit == YEAR_UNIT.canonical and q.text.endswith("年"):
            yield clause[:at] + "哪一年" + after, q.text
        elif unit == "%":
            yield clause[:at] + "百分之多少" + after, q.text
        elif unit or _HAN.match(after):  # a unit, or a measure word after the number (87家, 12个)
            measure = after[:1] if not unit and _HAN.match(after) else ""
            yield clause[:at] + "多少" + unit + after, q.text + measure
    named = _ZH_NAME.match(clause)
    if named:
        yield named.group("ask") + "什么", named.group("name")


class _PromptOnly(Backend):
    """The inner model of an expert that is only asked to build prompts, never to answer."""

    model_id = "prompt-only"
    weights_sha256 = "0" * 64

    def generate(self, request: GenerationRequest) -> Iterator[Chunk]:
        raise BackendError("the prompt-only backend builds training prompts and cannot generate")
