"""The simulation with real models: llama.cpp respondents answer real questions, real judges rate them.

Respondents are local models: per domain, experts (SmolLM2 + the domain's knowledge folder, one
retrieving one passage and one retrieving two; registered only in their domain) and general models
(SmolLM2 and Gemma-3-270M without documents, registered in every domain). Requests ask questions
of ``llmnet.data.QUESTIONS_FILE`` (those of domains that have a knowledge folder), each drawn
uniformly within its request's domain. Validators rate with the validator's combined judge
(reference overlap blended with an LLM judge, SmolLM2 and Gemma-3-270M in turn).

Everything else is the simulation's: the same policies, consensus, settlement, trust and in-memory
ledger (:func:`~llmnet.sim.runner.run_policies`). Only the source of answers changes: the
*realised* quality of an answer is its reference score mapped onto [0, 1], and a respondent's
*hidden* quality in a domain is the mean of that over the domain's questions (which is what
regret is measured against). Every answer is generated once per (respondent, question) at
temperature 0 with a fixed seed, and every rating once per (judge, question, answer text), so all
policies see the same generations.

An answer is **correct** when the reference judge scores it at least ``correct_at`` (7 of 10 by
default: roughly, the answer holds three quarters or more of the reference's key words and
numbers, numbers counting double, without much else).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from llmnet.backends.base import Backend, GenerationRequest
from llmnet.errors import InputError
from llmnet.experts.expert import ExpertBackend
from llmnet.experts.knowledge import KnowledgeBase
from llmnet.questions import Question, load_questions
from llmnet.reputation.consensus import normalize_score
from llmnet.roles.judge import CombinedJudge, Judge, LLMJudge, ReferenceJudge
from llmnet.sim.runner import Answers, AnswerSource, Progress, Trace, run_policies
from llmnet.sim.scenario import Population, Scenario, request_domains
from llmnet.sim.selectors import IntArray

ModelFactory = Callable[[str], Backend]  # packaged model name -> backend
GENERAL_MODELS = ("smollm2", "gemma3-270m")
JUDGE_MODELS = ("smollm2", "gemma3-270m", "smollm2")  # one per validator, alternating like `llmnet up`
CORRECT_AT = 7.0
# one thread per model: on a shared 2-core machine two llama.cpp threads waiting on each other ran
# a generation ten times slower than one thread (measured under a load average of 10)
MODEL_THREADS = 1


def packaged_model(name: str) -> Backend:
    """A packaged local model: SmolLM2 in chat mode, Gemma-3-270M (a base model) in completion mode."""
    from llmnet.backends import create_backend

    mode = "completion" if name == "gemma3-270m" else "chat"
    return create_backend("llamacpp", model=name, mode=mode, n_threads=MODEL_THREADS)


@dataclass(frozen=True)
class RealRespondent:
    name: str
    backend: Backend
    domains: tuple[str, ...]
    expert: bool


@dataclass(frozen=True)
class RealValidator:
    judge_model: str  # validators with the same judge model give the same ratings: computed once
    judge: Judge


def default_respondents(models: ModelFactory, knowledge: Path, domains: Sequence[str]) -> list[RealRespondent]:
    """Two experts per domain (one and two passages retrieved) and the general models."""
    out = []
    for d in domains:
        kb = KnowledgeBase.from_folder(knowledge / d)
        for passages in (1, 2):
            expert = ExpertBackend(models("smollm2"), kb, k=passages, evidence="passages")
            out.append(RealRespondent(f"smollm2+{d}/{passages}p", expert, (d,), expert=True))
    out += [RealRespondent(m, models(m), tuple(domains), expert=False) for m in GENERAL_MODELS]
    return out


def default_validators(models: ModelFactory, judge_tokens: int = 8) -> list[RealValidator]:
    """The validator's combined judge (reference 0.7, LLM 0.3) over each judge model in turn."""
    judges = {m: CombinedJudge(ReferenceJudge(), LLMJudge(models(m), max_tokens=judge_tokens)) for m in JUDGE_MODELS}
    return [RealValidator(m, judges[m]) for m in JUDGE_MODELS]


def domain_questions(questions: Sequence[Question], knowledge: Path) -> dict[str, list[Question]]:
    """The questions of each domain that has a knowledge folder, in file order."""
    by_domain: dict[str, list[Question]] = {}
    for q in questions:
        if (knowledge / q.domain).is_dir():
            by_domain.setdefault(q.domain, []).append(q)
    if not by_domain:
        raise InputError(
            f"no question's domain has a knowledge folder under {knowledge}: give questions whose "
            "'domain' names a folder there (e.g. medicine, astronomy, law)"
        )
    return by_domain


@dataclass
class AnswerBook:
    """Each (respondent, question) answer and each (judge model, question, answer) rating,
    computed the first time it is needed and kept."""

    respondents: Sequence[RealRespondent]
    validators: Sequence[RealValidator]
    questions: Sequence[Question]
    max_tokens: int = 48
    seed: int = 0
    answers: dict[tuple[int, int], str] = field(default_factory=dict)
    ratings: dict[tuple[str, int, str], float] = field(default_factory=dict)
    generation_s: float = 0.0
    judging_s: float = 0.0

    def answer(self, respondent: int, question: int) -> str:
        key = (respondent, question)
        if key not in self.answers:
            started = time.perf_counter()
            request = GenerationRequest.from_prompt(
                self.questions[question].question, max_tokens=self.max_tokens, temperature=0.0, seed=self.seed
            )
            self.answers[key] = self.respondents[respondent].backend.complete(request).text.strip()
            self.generation_s += time.perf_counter() - started
        return self.answers[key]

    def reference_score(self, question: int, text: str) -> float:
        q = self.questions[question]
        return ReferenceJudge().rate(q.question, {"a": text}, q.reference)["a"]

    def rate(self, question: int, text: str) -> NDArray[np.float64]:
        """Every validator's 1-10 rating of ``text`` as an answer to ``question``."""
        return np.array([self._rating(v, question, text) for v in self.validators])

    def _rating(self, v: RealValidator, question: int, text: str) -> float:
        key = (v.judge_model, question, text)
        if key not in self.ratings:
            started = time.perf_counter()
            q = self.questions[question]
            self.ratings[key] = v.judge.rate(q.question, {"a": text}, q.reference)["a"]
            self.judging_s += time.perf_counter() - started
        return self.ratings[key]


class RealAnswers(AnswerSource):
    """Answers from the :class:`AnswerBook`: request ``r`` asks question ``question_of[r]``."""

    def __init__(self, book: AnswerBook, pop: Population, question_of: NDArray[np.intp]) -> None:
        self.book, self.pop, self.question_of = book, pop, question_of

    def answer(self, domain: int, rows: NDArray[np.intp], chosen: IntArray, rng: np.random.Generator) -> Answers:
        m, k = chosen.shape
        realised = np.zeros((m, k))
        ratings = np.zeros((m, k, len(self.book.validators)))
        for i, row in enumerate(rows):
            q = int(self.question_of[row])
            for j, p in enumerate(chosen[i]):
                text = self.book.answer(int(p), q)
                realised[i, j] = normalize_score(self.book.reference_score(q, text))
                ratings[i, j] = self.book.rate(q, text)
        return Answers(self.pop.quality[chosen, domain], realised, ratings)


@dataclass(frozen=True)
class RealSetting:
    """A real-model run: the scenario's stream and policies over these respondents and questions."""

    scenario: Scenario
    respondents: Sequence[RealRespondent]
    validators: Sequence[RealValidator]
    questions: dict[str, list[Question]]  # per domain, in the order of ``scenario``'s domains
    max_tokens: int = 48


def real_scenario(
    base: Scenario, respondents: Sequence[RealRespondent], validators: int, domains: Sequence[str]
) -> Scenario:
    """``base`` with the population's shape: providers, domains, validators, experts per domain."""
    experts = min(sum(r.expert and d in r.domains for r in respondents) for d in domains)
    fields = {**base.__dict__, "providers": len(respondents), "domains": len(domains), "validators": validators,
              "experts_per_domain": experts, "attackers": ()}  # fmt: skip
    return Scenario(**fields)


def question_stream(s: Scenario, per_domain: Sequence[int], offsets: Sequence[int]) -> NDArray[np.intp]:
    """Per request, the index (into all questions) of the question it asks: uniform within its domain."""
    domains = request_domains(s)
    draws = np.random.default_rng([s.seed, 4]).random(len(domains))
    counts, starts = np.asarray(per_domain), np.asarray(offsets)
    return (starts[domains] + (draws * counts[domains]).astype(np.intp)).astype(np.intp)


def real_population(book: AnswerBook, domains: Sequence[str], validators: int,
                    on_answer: Callable[[], None] | None = None) -> Population:  # fmt: skip
    """The truth of a real run: every member's answer to every question of its domains, scored
    against the reference; hidden quality = the mean over the domain's questions."""
    p, n = len(book.respondents), len(domains)
    quality, member = np.zeros((p, n)), np.zeros((p, n), dtype=bool)
    for i, r in enumerate(book.respondents):
        for d, name in enumerate(domains):
            if name not in r.domains:
                continue
            member[i, d] = True
            scores = []
            for q in _indices(book.questions, name):
                scores.append(normalize_score(book.reference_score(q, book.answer(i, q))))
                if on_answer:
                    on_answer()
            quality[i, d] = float(np.mean(scores))
    expert = member & np.array([r.expert for r in book.respondents])[:, None]
    kinds = tuple("expert" if r.expert else "general" for r in book.respondents)
    stake = np.full(validators, 10**18, dtype=np.int64)
    return Population(quality, member, expert, kinds, np.zeros(p, dtype=np.int64), np.zeros(validators),
                      ("honest",) * validators, stake, -1, tuple(domains))  # fmt: skip


def _indices(questions: Sequence[Question], domain: str) -> list[int]:
    return [i for i, q in enumerate(questions) if q.domain == domain]


def answers_needed(setting: RealSetting) -> int:
    return sum(len(setting.questions[d]) for r in setting.respondents for d in r.domains if d in setting.questions)


def run_real(setting: RealSetting, progress: Progress | None = None,
             on_answer: Callable[[], None] | None = None) -> tuple[Population, list[Trace], AnswerBook]:  # fmt: skip
    """Generate (once) every answer, then run every policy over them; see the module docstring."""
    domains = list(setting.questions)
    flat = [q for d in domains for q in setting.questions[d]]
    book = AnswerBook(setting.respondents, setting.validators, flat, setting.max_tokens, setting.scenario.seed)
    pop = real_population(book, domains, len(setting.validators), on_answer)
    counts = [len(setting.questions[d]) for d in domains]
    stream = question_stream(setting.scenario, counts, np.cumsum([0, *counts[:-1]]).tolist())
    source = RealAnswers(book, pop, stream)
    return pop, run_policies(setting.scenario, pop, request_domains(setting.scenario), source, progress), book


def load_setting(base: Scenario, questions_file: Path, knowledge: Path, models: ModelFactory,
                 max_tokens: int = 48, judge_tokens: int = 8) -> RealSetting:  # fmt: skip
    """The default real setting: the question file's domains that have a knowledge folder, their
    experts, the general models and three validators."""
    if not questions_file.is_file():
        raise InputError(f"question file {questions_file} not found: give --questions a JSON-lines file")
    by_domain = domain_questions(load_questions(questions_file), knowledge)
    respondents = default_respondents(models, knowledge, list(by_domain))
    validators = default_validators(models, judge_tokens)
    scenario = real_scenario(base, respondents, len(validators), list(by_domain))
    return RealSetting(scenario, respondents, validators, by_domain, max_tokens)
