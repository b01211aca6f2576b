"""How an answer's facts compare with the evidence for its question: pure rules, no I/O.

:func:`grounded_verdict` compares an answer's facts (:mod:`llmnet.facts.extract`) with the
sentences of the documents that state what the question asks (:mod:`llmnet.facts.evidence`):

* ``supported``    its facts are in the evidence and none contradicts it: 9-10
* ``context``      the asked fact is right, another it adds is true elsewhere in the documents: 8
* ``mixed``        the right value, and another of its kind the documents do not give: 6
* ``partial``      nothing to compare exactly: 2-8 from how much of what it adds the evidence has
* ``no value``     the question asks for a number or date and the answer gives none: 2
* ``hedged``       the right value and a wrong one of the same kind ("20 or 35 years"): 2
* ``contradicted`` the evidence gives another value for the same kind of fact (or names another): 1-2

:func:`arithmetic_verdict` and :func:`agreement_verdict` rate answers without evidence.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

from llmnet.facts.evidence import Evidence, terms
from llmnet.facts.extract import Facts, Quantity, extract_facts, han_bigrams, name_in, quantities
from llmnet.facts.units import unit_at
from llmnet.roles.judge import NEUTRAL_SCORE

#: a sentence stating a value of the answer's kind is evidence if it covers this share of what the best covers
FACT_MARGIN = 0.5
#: for names, only sentences this close to the best one count: a sibling's name is often in the next
TIE = 0.97


_CLAUSE = re.compile(r"[，；、]|[,;]\s+")
_ASKS_NAME = re.compile(r"\b(?:who|whom|whose|name|named|called)\b|谁|哪位|什么名字|叫什么|名叫|名为", re.IGNORECASE)
_BACK_REFERENCE = re.compile(r"(?:it|its|they|their|this|these|he|she|his|her)\b|(?:\w+\s+){0,2}the\s+(\w+)", re.I)
_ASKS_NUMBER = re.compile(
    r"\bhow\s+(?:many|much|long|far|deep|high|tall|old|big|large|wide|heavy|fast|often|late|early)\b|"
    r"\b(?:what|which)\s+(?:year|percentage|share|proportion|fraction|temperature|voltage|speed|distance|dose)\b|"
    r"\bin\s+what\s+year\b|\bwhat\s+time\b|多少|几|多长|多远|多高|多深|多大|多重|哪一年|哪年|何时|什么时候",
    re.IGNORECASE,
)
_ASKS_UNIT = re.compile(r"\bhow\s+many\s*|\bin\s+(?=\D)|多少|几", re.IGNORECASE)
_STILL_ASKS = re.compile(r"[?？]|什么|多少|哪|谁|吗")
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "prof", "professor"})
# words that offer alternatives: "20 or 35 years", "110℃或80℃"
_HEDGE = re.compile(r"\b(?:or|either|maybe|perhaps|possibly|depending)\b|或|还是|也许|可能", re.IGNORECASE)


@dataclass
class Verdict:
    """Why an answer got its score: what the benchmark saves beside every rating."""

    verdict: str
    score: float
    passage: str | None = None
    evidence: list[str] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    contradicted: list[str] = field(default_factory=list)
    note: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def grounded_verdict(question: str, answer: str, facts: Facts, evidence: Evidence) -> Verdict:
    """Compare an answer's facts with the evidence sentences for its question (for a question
    asking who or what name, its names first: "Johan Berg, in 1962" is wrong however right the year)."""
    kind = asked_dimension(question)
    if kind is not None:  # "How many ml …": values of other kinds are not the answer
        facts = Facts(tuple(q for q in facts.quantities if q.dimension in (kind, "number")), facts.names)
    if not facts.quantities and (kind is not None or _ASKS_NUMBER.search(question)):
        verdict = Verdict("no value", 2.0, evidence.passage_id, list(evidence.sentences))
        verdict.note = "the question asks for a number or a date; the answer gives none"
        return verdict
    if facts.names and _ASKS_NAME.search(question):
        named = _by_names(question, facts, evidence, " ".join(evidence.sentences), _blank(evidence))
        if named is not None:
            return named
    matched: list[Quantity] = []
    wrong: list[Quantity] = []
    used: list[str] = []
    for q in facts.quantities:
        sentence = fact_sentence(q, evidence)
        if sentence is None:
            continue
        used.append(sentence)
        stated = asked_values(question, (sentence,), evidence.weight, any_kind=q.unitless)
        if any(q.matches(e) for e in stated):
            matched.append(q)
        elif _contradicts(q, stated):
            wrong.append(q)
    shown = list(dict.fromkeys([*used, *evidence.sentences]))
    base = Verdict("", 0.0, evidence.passage_id, shown, [q.text for q in matched], [q.text for q in wrong])
    if wrong:
        return _with_wrong(answer, base, matched, wrong, evidence)
    if matched:
        unsure = [n for n in facts.names if not name_in(n, evidence.context)]
        base.verdict, base.score = "supported", 9.0 if unsure else 10.0
        return base
    return _by_names_and_words(question, answer, facts, evidence, base)


def asked_dimension(question: str) -> str | None:
    """The kind of value a question asks for when it names a unit: "How many ml …" (volume),
    "多少米" (length), "in degrees Celsius" (temperature); None when it names none."""
    for m in _ASKS_UNIT.finditer(question):
        found = unit_at(question, m.end())
        if found is not None:
            return found[0].dimension
    return None


def _blank(evidence: Evidence) -> Verdict:
    return Verdict("", 0.0, evidence.passage_id, list(evidence.sentences))


def reference_evidence(reference: str) -> Evidence:
    return Evidence(((reference, 1.0),), "reference", reference, {})


def fact_sentence(answer: Quantity, evidence: Evidence) -> str | None:
    """The best evidence sentence stating a value of the answer's kind (any value but a year,
    for a bare number), if it covers the question nearly as well as the best one."""
    for text, coverage in evidence.ranked:
        if coverage < FACT_MARGIN * evidence.coverage:
            return None
        kinds = {q.dimension for q in quantities(text)}
        if answer.dimension in kinds or (answer.unitless and kinds - {"date"}):
            return text
    return None


def asked_values(question: str, sentences: tuple[str, ...], weight: Callable[[str], float] = lambda term: 1.0,
                 *, any_kind: bool = False) -> list[Quantity]:  # fmt: skip
    """The values the evidence gives for what is asked: where a sentence gives several of one
    kind in different clauses ("altitude 3,200 m, depth 85 m"), those of the clause that
    shares most with the question; with ``any_kind`` (for a bare number, which could be any),
    those of the clause that shares most, whatever their kind."""
    asked = terms(question)
    given = quantities(question)
    found: list[tuple[float, Quantity]] = []
    for sentence in sentences:
        for clause in _CLAUSE.split(sentence):
            new = [q for q in quantities(clause) if not any(q.matches(g) for g in given)]
            found += [(sum(weight(t) for t in asked & terms(clause)), q) for q in new]

    def kind(q: Quantity) -> str:
        return "any" if any_kind and q.dimension != "date" else q.dimension

    best = {kind(q): 0.0 for _, q in found}
    for overlap, q in found:
        best[kind(q)] = max(best[kind(q)], overlap)
    return [q for overlap, q in found if overlap == best[kind(q)]]


def _contradicts(answer: Quantity, stated: list[Quantity]) -> bool:
    if answer.unitless:  # a bare number the evidence does not have, where it gives values
        return any(e.dimension != "date" for e in stated)
    return any(answer.contradicts(e) for e in stated)


def _with_wrong(answer: str, base: Verdict, matched: list[Quantity], wrong: list[Quantity],
                evidence: Evidence) -> Verdict:  # fmt: skip
    if not matched:
        base.verdict, base.score = "contradicted", 1.0
        return base
    if _HEDGE.search(answer):
        base.verdict, base.score = "hedged", 2.0
        return base
    elsewhere = quantities(evidence.context)
    if all(any(w.matches(e) for e in elsewhere) for w in wrong):
        base.verdict, base.score = "context", 8.0
        base.note = "the other values it gives are stated elsewhere in the documents"
        return base
    base.verdict, base.score = "mixed", 6.0
    base.note = "the asked value is right; another value it gives is not in the documents"
    return base


def _by_names_and_words(question: str, answer: str, facts: Facts, evidence: Evidence, base: Verdict) -> Verdict:
    focus = " ".join(evidence.sentences)
    if facts.names:
        named = _by_names(question, facts, evidence, focus, base)
        if named is not None:
            return named
    added = terms(answer) - terms(question) - _TITLES
    if not added or echoes(answer, question):
        base.verdict, base.score = "partial", 3.0
        base.note = "restates the question"
        return base
    said, known = terms(focus), terms(evidence.context)
    found = sum(evidence.weight(t) * (1.0 if t in said else 0.5 if t in known else 0.0) for t in added)
    share = found / sum(evidence.weight(t) for t in added)
    base.verdict, base.score = "partial", round(2.0 + 6.0 * share, 2)
    base.note = f"{share:.0%} of what it adds is in the evidence (weighted by rarity; elsewhere in the documents: half)"
    return base


def _by_names(question: str, facts: Facts, evidence: Evidence, focus: str, base: Verdict) -> Verdict | None:
    """Supported if the evidence names what the answer names; contradicted if the evidence
    names something else and the answer names what the documents never mention."""
    best = " ".join(t for t, c in evidence.ranked if c >= TIE * evidence.coverage)
    found = [n for n in facts.names if name_in(n, best)]
    # a Chinese answer's "names" are every run of words it adds: only Latin names must all be known
    unknown = [n for n in facts.names if not name_in(n, evidence.context) and not (found and han_bigrams(n))]
    others = [n for n in extract_facts(focus, question).names if not any(name_in(n, f) for f in found)]
    base.matched += found
    if found and not unknown:
        base.verdict, base.score = "supported", 10.0 if len(found) == len(facts.names) else 9.0
        return base
    around = _named_around(question, facts, evidence, found)
    if around and not unknown and len(found) + len(around) == len(facts.names):
        base.matched += around
        base.verdict, base.score = "supported", 9.0
        base.note = "named in the sentence before or after the best evidence, which refers to it"
        return base
    # a sentence nearly as good that has what the question asks and the best one lacks ("香气")
    missing = terms(question) - terms(focus)
    near = [t for t, c in evidence.ranked if c >= FACT_MARGIN * evidence.coverage and missing & terms(t)]
    # only for Chinese, whose "names" are the words an answer adds; a Latin name near the evidence is
    # as often a sibling fact's as the asked one's
    han = [n for n in facts.names if han_bigrams(n) and _distinctive(n, evidence)]
    if not unknown and any(name_in(n, t) for n in han for t in near):
        base.verdict, base.score = "supported", 8.0
        base.note = "named in a sentence near the best evidence"
        return base
    if others and (unknown or not found):
        base.contradicted += [n for n in facts.names if n not in found]
        base.verdict, base.score = "contradicted", 2.0
        base.note = f"the evidence names {', '.join(others[:3])}"
        return base
    return None


def _named_around(question: str, facts: Facts, evidence: Evidence, found: list[str]) -> list[str]:
    """The answer's names (not already found) that the sentence before the best one states, if
    the best refers back to it, or the sentence after, if that refers back to the best."""
    best = evidence.ranked[0][0]
    around = evidence.after_best() + " " + (evidence.before_best() if _refers_back(best, question) else "")
    names = [n for n in facts.names if n not in found and name_in(n, around)]
    return names if all(_distinctive(n, evidence) for n in names) else []


def echoes(answer: str, question: str) -> bool:
    """The answer repeats the question: nearly all its character pairs are the question's, or
    most are and it still asks ("霜岭红茶汤带有什么香气？")."""
    a, q = (re.sub(r"[\W_]+", "", t.lower()) for t in (answer, question))
    pairs = {a[i : i + 2] for i in range(len(a) - 1)}
    if not pairs:
        return False
    share = len(pairs & {q[i : i + 2] for i in range(len(q) - 1)}) / len(pairs)
    return share >= 0.95 or (share >= 0.8 and _STILL_ASKS.search(answer) is not None)


def _refers_back(sentence: str, question: str) -> bool:
    """ "It …", "They …", "Under the treaty, …" (a thing the question asks about, named before)."""
    m = _BACK_REFERENCE.match(sentence)
    return m is not None and (m.group(1) is None or bool(terms(m.group(1)) & terms(question)))


def _distinctive(name: str, evidence: Evidence) -> bool:
    """Not a word the documents use everywhere (their own subject, "Teravolin"): half the median rarity or more."""
    weights = [evidence.weight(t) for t in terms(name)]
    typical = statistics.median(evidence.weights.values()) if evidence.weights else 0.0
    return bool(weights) and statistics.fmean(weights) >= 0.5 * typical


def arithmetic_verdict(expected: float, facts: Facts) -> Verdict:
    """Right if the answer states the computed value, wrong if it states only other numbers."""
    shown = f"{expected:g}"
    if any(_close_to(q.shown, expected) for q in facts.quantities):
        return Verdict("arithmetic", 10.0, matched=[shown], note=f"computed {shown}")
    if facts.quantities:
        return Verdict("arithmetic", 1.0, contradicted=[q.text for q in facts.quantities], note=f"computed {shown}")
    return Verdict("arithmetic", 2.0, note=f"computed {shown}; the answer states no number")


def _close_to(value: float, expected: float) -> bool:
    return abs(value - expected) <= max(1e-9, 0.005 * abs(expected))


def same_fact(mine: Facts, theirs: Facts) -> bool:
    """Two answers state one fact: an equal quantity (in canonical units) or the same name."""
    if any(q.matches(t) for q in mine.quantities for t in theirs.quantities):
        return True
    return any(n.lower() == m.lower() for n in mine.names for m in theirs.names)


def agreement_verdict(key: str, facts: Mapping[str, Facts]) -> Verdict:
    """Answers from other respondents stating the same fact support this one; stating another
    value of the same kind speaks against it."""
    mine = facts[key]
    support = dissent = 0
    for other, theirs in facts.items():
        if other == key or not theirs:
            continue
        agree = same_fact(mine, theirs)
        differ = any(q.contradicts(t) for q in mine.quantities for t in theirs.quantities)
        support, dissent = support + agree, dissent + (differ and not agree)
    note = f"{support} other answers agree, {dissent} disagree"
    if support + dissent == 0 or 2 * (1 + support) == 1 + support + dissent:
        return Verdict("undecided", NEUTRAL_SCORE, note=note)
    if 2 * (1 + support) > 1 + support + dissent:  # in the majority of the answers that say something comparable
        return Verdict("agreement", min(8.0, 6.0 + support), note=note)
    return Verdict("agreement", max(3.0, 5.0 - dissent), note=note)
