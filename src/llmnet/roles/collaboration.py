"""Adaptive collaboration: one answer when it is good, more respondents and rounds only when not.

The coordinator's default way to answer (``collaboration = "adaptive"``):

0. if the best-ranked respondent is proven in the domain (at least ``trusted_share`` of its last
   ``trust_window`` answers there that this coordinator saw rated, each given without seeing anyone
   else's, were confident; see :class:`LeadRecord`), its answer is final: it streams to the requester
   as it is generated, and it is still rated, so a lead that slips loses the trust within a few
   answers and its reputation takes the rating;
1. otherwise the best-ranked respondent answers alone, and the validators rate its answer;
2. if the rating is confident (the consensus at least ``confident_score`` and the validators within
   ``agreement_spread`` of each other), that answer is final: an easy question costs one generation;
3. otherwise the next ``k - 1`` respondents answer too, and all answers are rated;
4. while no answer is confident, up to ``rounds`` rounds follow in which each respondent sees the others'
   answers and may revise; a revision replaces a respondent's earlier answer only if it is rated at least
   as well, so no round talks a respondent out of a grounded answer.

The answer returned is the best-rated one the task produced. Ties are broken by evidence, never by the
order in which respondents happened to be asked: an answer grounded on retrieved passages first, then one
that more of the other answers agree with, then the respondent's reputation in the domain.

``collaboration = "fixed"`` (or a request that sets ``llmnet.k`` or ``llmnet.rounds``) asks ``k``
respondents at once and runs every round, as the paper's protocol does.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from llmnet.facts.extract import extract_facts
from llmnet.facts.verdicts import same_fact
from llmnet.types import Candidate

if TYPE_CHECKING:
    from llmnet.roles.coordinator import Answer, Coordinator, TaskRun


class CollaborationSettings(BaseModel):
    """When one answer is enough; the one home of these defaults (see the module docstring)."""

    collaboration: Literal["adaptive", "fixed"] = "adaptive"
    # a consensus score (1-10) at or above which one answer is accepted without asking anyone else
    confident_score: float = Field(default=8.0, ge=1, le=10)
    # ... provided the validators' ratings of it are no further apart than this (points out of 10)
    agreement_spread: float = Field(default=3.0, ge=0, le=9)
    # a lead proven in the domain answers alone and streams live (step 0 of the module docstring)
    trust_lead: bool = True
    # a respondent's last answers in a domain (given alone, rated) that step 0 looks at ...
    trust_window: int = Field(default=10, ge=1)
    # ... and the share of them that must have been confident
    trusted_share: float = Field(default=0.7, gt=0, le=1)


class LeadRecord:
    """Per respondent and domain, whether each of its last ``trust_window`` first answers (given
    without seeing anyone else's) was rated confident, as this coordinator saw them.

    It is the coordinator's own memory, not the chain's reputation: reputation averages every rated
    answer, revisions after a debate included, over the respondent's whole history, while whether
    waiting for a rating is worth its latency depends on how this respondent's lone answers have
    fared lately. It starts empty, so after a restart every lead is checked until it has
    ``trust_window`` answers again; a respondent and a domain take one entry each.

    >>> record = LeadRecord(CollaborationSettings(trust_window=3, trusted_share=0.6))
    >>> for ok in (True, False, True):
    ...     record.note("0xabc", "law", ok)
    >>> record.trusts("0xabc", "law"), record.trusts("0xabc", "medicine")
    (True, False)
    """

    def __init__(self, settings: CollaborationSettings) -> None:
        self.settings = settings
        self._seen: dict[tuple[str, str], deque[bool]] = {}

    def note(self, respondent: str, domain: str, was_confident: bool) -> None:
        key = (respondent, domain)
        self._seen.setdefault(key, deque(maxlen=self.settings.trust_window)).append(was_confident)

    def note_rated(self, domain: str, rated: Iterable[Rated]) -> None:
        """Note each of ``rated`` (first answers) that the validators scored."""
        for r in rated:
            if r.score is not None:
                self.note(r.answer.respondent, domain, confident(r, self.settings))

    def trusts(self, respondent: str, domain: str) -> bool:
        s = self.settings
        seen = self._seen.get((respondent, domain), ())
        needed = math.ceil(round(s.trusted_share * s.trust_window, 9))
        return s.trust_lead and len(seen) == s.trust_window and sum(seen) >= needed


def trusts_lead(run: TaskRun, queue: list[Candidate], record: LeadRecord) -> bool:
    """Whether an adaptive ``run`` lets the first of ``queue`` answer alone (step 0): the one
    decision behind both the streamed and the unstreamed answer."""
    return run.adaptive and bool(queue) and record.trusts(queue[0].provider, run.domain)


@dataclass
class Rated:
    """One respondent's best answer so far, its consensus score and the ratings behind it."""

    answer: Answer
    score: float | None
    ratings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def spread(self) -> float:
        scores = [r["message"]["score"] / 100 for r in self.ratings]
        return max(scores) - min(scores) if scores else 0.0


def confident(rated: Rated, settings: CollaborationSettings) -> bool:
    """A rated answer good enough to stop at: high consensus, validators in agreement."""
    return (
        rated.score is not None
        and rated.score >= settings.confident_score
        and rated.spread <= settings.agreement_spread
    )


def ratings_by_respondent(run: TaskRun) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in run.ratings:
        out.setdefault(r["message"]["respondent"], []).append(r)
    return out


def rated_answers(run: TaskRun) -> dict[str, Rated]:
    """Each answer of ``run`` with its consensus score and the ratings behind it."""
    ratings = ratings_by_respondent(run)
    return {who: Rated(answer, run.scores.get(who), ratings.get(who, [])) for who, answer in run.answers.items()}


def absorb(best: dict[str, Rated], run: TaskRun) -> None:
    """Keep, per respondent, the better rated of its earlier answer and the one just rated."""
    for who, new in rated_answers(run).items():
        old = best.get(who)
        if old is None or old.answer is new.answer or _score(new) >= _score(old):
            best[who] = new


def _score(r: Rated) -> float:
    return r.score if r.score is not None else 0.0


def agreement(question: str, best: dict[str, Rated]) -> dict[str, int]:
    """For each answer, how many other respondents' answers state one of its facts (the grounded
    judge's reading of numbers, units and names)."""
    facts = {who: extract_facts(r.answer.text, question) for who, r in best.items()}
    return {who: sum(1 for o, f in facts.items() if o != who and same_fact(mine, f)) for who, mine in facts.items()}


def choose(run: TaskRun, best: dict[str, Rated]) -> str:
    """The respondent whose answer is returned: best score, then evidence (see the module docstring)."""
    agree = agreement(run.messages[-1].content, best)
    reputation = {c.provider: c.mean for c in run.chosen}

    def key(who: str) -> tuple[float, int, int, float]:
        r = best[who]
        grounded = 1 if r.answer.reply.sources else 0
        return (round(_score(r), 6), grounded, agree[who], reputation.get(who, 0.0))

    return max(best, key=key)


def settle_run(run: TaskRun, best: dict[str, Rated]) -> None:
    """Write the kept answers, their ratings and scores, and the choice into ``run``."""
    run.answers = {who: r.answer for who, r in best.items()}
    run.ratings = [rating for r in best.values() for rating in r.ratings]
    run.scores = {who: r.score for who, r in best.items() if r.score is not None}
    run.final_respondent = choose(run, best)
    run.final = best[run.final_respondent].answer.text


async def adaptive(coordinator: Coordinator, run: TaskRun, max_tokens: int, queue: list[Candidate]) -> None:
    """Answer ``run`` from ``queue`` (its candidates, best first) as the module docstring says;
    ``run`` holds the outcome."""
    settings = coordinator.settings
    first = coordinator.payload(run, 0, [], max_tokens)
    best: dict[str, Rated] = {}
    run.trusted_lead = trusts_lead(run, queue, coordinator.leads)
    answers = await coordinator.fill(run, queue, first, 1)
    coordinator.require_answers(run, answers)
    run.history.append({who: a.text for who, a in answers.items()})
    await _rate(coordinator, run, answers, best)
    coordinator.leads.note_rated(run.domain, (best[who] for who in answers))
    if not run.trusted_lead and not _done(best, settings) and run.k > 1:
        run.escalated.append("more respondents")
        more = await coordinator.fill(run, queue, first, run.k - len(answers))
        if more:
            run.history[0] |= {who: a.text for who, a in more.items()}
            await _rate(coordinator, run, {who: r.answer for who, r in best.items()} | more, best)
            coordinator.leads.note_rated(run.domain, (best[who] for who in more))
    for round_ in range(1, run.rounds + 1):
        if run.trusted_lead or _done(best, settings) or len(best) < 2:
            break
        run.escalated.append(f"round {round_}")
        current = {who: r.answer for who, r in best.items()}
        revised = await coordinator.debate_round(run, current, round_, max_tokens)
        run.history.append({who: a.text for who, a in revised.items()})
        await _rate(coordinator, run, revised, best)
    settle_run(run, best)


def _done(best: dict[str, Rated], settings: CollaborationSettings) -> bool:
    return any(confident(r, settings) for r in best.values())


async def _rate(coordinator: Coordinator, run: TaskRun, answers: dict[str, Answer], best: dict[str, Rated]) -> None:
    run.answers = answers
    await coordinator.rate(run)
    absorb(best, run)
