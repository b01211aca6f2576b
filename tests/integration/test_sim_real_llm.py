"""The real-model simulation with the real SmolLM2 on a tiny setting: two medicine questions, an expert
(SmolLM2 + the medicine folder) beside the bare model, judged by the combined judge over SmolLM2,
two policies. Every answer is generated once and reused, the expert beats the bare model against
the references, and a re-generated answer is identical (temperature 0, fixed seed)."""

from __future__ import annotations

import numpy as np
import pytest

from llmnet.backends.base import GenerationRequest
from llmnet.backends.llamacpp import LlamaCppBackend
from llmnet.data import KNOWLEDGE_ROOT
from llmnet.experts.expert import ExpertBackend
from llmnet.experts.knowledge import KnowledgeBase
from llmnet.questions import load_questions
from llmnet.reputation.consensus import normalize_score
from llmnet.roles.judge import CombinedJudge, LLMJudge, ReferenceJudge
from llmnet.sim.metrics import accuracy
from llmnet.sim.real import MODEL_THREADS, RealRespondent, RealSetting, RealValidator, real_scenario, run_real
from llmnet.sim.scenario import Scenario

pytestmark = pytest.mark.integration

KNOWLEDGE = KNOWLEDGE_ROOT
ASKED = ("How long should you cool a burn under running water?", "At what temperature does a fever start?")


def test_real_smollm2_expert_is_found_and_answers_are_generated_once() -> None:
    model = LlamaCppBackend(model="smollm2", n_threads=MODEL_THREADS)
    questions = [q for q in load_questions(KNOWLEDGE / "questions.jsonl") if q.question in ASKED]
    expert = ExpertBackend(model, KnowledgeBase.from_folder(KNOWLEDGE / "medicine"))
    respondents = [RealRespondent("expert", expert, ("medicine",), True),
                   RealRespondent("smollm2", model, ("medicine",), False)]  # fmt: skip
    judge = RealValidator("smollm2", CombinedJudge(ReferenceJudge(), LLMJudge(model, max_tokens=8)))
    base = Scenario(requests=40, k=1, batch=10, policies=("thompson", "random"), warmup_per_domain=20)
    setting = RealSetting(real_scenario(base, respondents, 2, ["medicine"]), respondents, [judge, judge],
                          {"medicine": questions}, max_tokens=24)  # fmt: skip
    pop, traces, book = run_real(setting)
    assert len(book.answers) == 4 and all(book.answers.values())
    assert len(book.ratings) <= 4  # one judge model: each distinct answer rated once, for both validators
    assert pop.quality[0, 0] > pop.quality[1, 0]  # the documents make SmolLM2 right where it alone is wrong
    possible = [normalize_score(book.reference_score(q, text)) for (_, q), text in book.answers.items()]
    for t in traces:  # each request received one of the cached answers, scored against its reference
        assert np.isclose(t.final[:, None], np.array(possible)[None, :]).any(axis=1).all()
    thompson, random = traces
    assert thompson.expert_share[20:].mean() > random.expert_share[20:].mean()
    assert accuracy(thompson, normalize_score(7.0)) >= accuracy(random, normalize_score(7.0))
    q = book.questions.index(questions[0])
    again = expert.complete(GenerationRequest.from_prompt(questions[0].question, max_tokens=24)).text.strip()
    assert again == book.answers[(0, q)]
