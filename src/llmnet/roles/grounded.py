"""A judge that checks answers against the domain's documents instead of asking a small model.

For a question of a domain whose reference documents the validator holds, the judge finds the
sentences that state what the question asks (:mod:`llmnet.facts.evidence`) and compares the
answer's facts with them (:mod:`llmnet.facts.verdicts`: numbers in canonical units, names):
supported answers score 9-10, contradicted or hedged ones 1-2.

Arithmetic questions are computed (:mod:`llmnet.facts.arithmetic`): right 10, another number 1.
A reference answer, when the coordinator sends one (gold tasks), is the evidence. Without
evidence (no documents for the domain, or none about the question) it falls back to
``agreement`` between the answers of different respondents in the same request, then the model
(a yes/no verdict from token probabilities when the backend gives them, else the rubric), then
neutral; fallback scores lose points for length (:func:`~llmnet.roles.judge.length_penalties`)
and near-ties are broken by :func:`~llmnet.roles.pairwise.pairwise_prefer` with the positions
swapped. Every rating's :class:`~llmnet.facts.verdicts.Verdict` (why) is in ``raw_outputs``::

    judge = GroundedJudge({"medicine": KnowledgeBase.from_folder("knowledge/medicine")})
    judge.rate("When does a fever start?", {"a": "At 38 °C.", "b": "At 37 °C."}, domain="medicine")
    # {"a": 10.0, "b": 1.0}
"""

from __future__ import annotations

from collections.abc import Mapping

from llmnet.backends.base import Backend, GenerationRequest
from llmnet.experts.knowledge import KnowledgeBase
from llmnet.facts.arithmetic import solve
from llmnet.facts.evidence import Evidence, EvidenceIndex
from llmnet.facts.extract import Facts, extract_facts
from llmnet.facts.verdicts import (
    Verdict,
    agreement_verdict,
    arithmetic_verdict,
    grounded_verdict,
    reference_evidence,
)
from llmnet.roles.judge import (
    MIN_SCORE,
    Judge,
    JudgeResult,
    LLMJudge,
    clamp_score,
    length_penalties,
)
from llmnet.roles.pairwise import pairwise_prefer

#: evidence must cover at least this share of the question's (rarity-weighted) terms
MIN_COVERAGE = 0.4
#: fallback scores closer than this are a near-tie, which a pairwise comparison may break
NEAR_TIE = 1.0
PAIRWISE_STEP = 1.0
#: answers this short are never penalised for length, however short the others are
LENGTH_FREE_WORDS = 12
YES_NO_PROMPT = (
    "Question: {question}\nProposed answer: {answer}\nIs the proposed answer correct? Reply with one word: yes or no."
)


class GroundedJudge(Judge):
    """Rates answers against ``corpora`` (domain -> the validator's reference documents);
    ``backend``, if given, is the model of last resort and breaks near-ties."""

    reads_domain = True

    def __init__(self, corpora: Mapping[str, KnowledgeBase] | None = None, backend: Backend | None = None,
                 *, min_coverage: float = MIN_COVERAGE) -> None:  # fmt: skip
        self.indexes = {domain: EvidenceIndex(kb) for domain, kb in (corpora or {}).items()}
        self.backend = backend
        self.min_coverage = min_coverage

    def identity(self) -> tuple[str, str]:
        if self.backend is None:
            return super().identity()
        return LLMJudge(self.backend).identity()

    def rate(self, question: str, answers: Mapping[str, str], reference: str | None = None,
             *, domain: str | None = None) -> dict[str, float]:  # fmt: skip
        return self.rate_detailed(question, answers, reference, domain=domain).scores

    def rate_detailed(self, question: str, answers: Mapping[str, str], reference: str | None = None,
                      *, domain: str | None = None) -> JudgeResult:  # fmt: skip
        verdicts = self.verdicts(question, answers, domain, reference)
        return JudgeResult({k: v.score for k, v in verdicts.items()}, {k: v.to_json() for k, v in verdicts.items()})

    def verdicts(self, question: str, answers: Mapping[str, str], domain: str | None,
                 reference: str | None = None) -> dict[str, Verdict]:  # fmt: skip
        """A :class:`Verdict` per answer key; a ``reference`` answer, when the coordinator has one
        (gold tasks), is the evidence instead of the documents."""
        index = self.indexes.get(domain or "")
        facts = {key: extract_facts(text, question) for key, text in answers.items()}
        expected = solve(question)  # arithmetic is computed, whatever the documents say
        out: dict[str, Verdict] = {}
        for key, text in answers.items():
            if not text.strip():
                out[key] = Verdict("empty", MIN_SCORE)
                continue
            if expected is not None:
                out[key] = arithmetic_verdict(expected, facts[key])
                continue
            if reference is not None:
                evidence: Evidence | None = reference_evidence(reference)
            else:
                evidence = index.find(question, text) if index is not None else None
            if evidence is not None and evidence.coverage >= self.min_coverage:
                out[key] = grounded_verdict(question, text, facts[key], evidence)
        missing = [key for key in answers if key not in out]
        if missing:
            out |= self._fallback(question, {k: answers[k] for k in missing}, facts)
        return out

    # --- without evidence -----------------------------------------------------------------------

    def _fallback(self, question: str, answers: Mapping[str, str], facts: Mapping[str, Facts]) -> dict[str, Verdict]:
        out = {key: agreement_verdict(key, facts) for key in answers}
        for key, verdict in out.items():
            if verdict.verdict == "undecided" and self.backend is not None and answers[key].strip():
                out[key] = self._model_verdict(question, answers[key])
        penalties = length_penalties(answers)
        for key, verdict in out.items():
            if penalties[key] and len(answers[key].split()) > LENGTH_FREE_WORDS:
                verdict.score = clamp_score(verdict.score - penalties[key])
                verdict.note += f" length penalty {penalties[key]:.1f}"
        self._break_near_ties(question, answers, out)
        return out

    def _model_verdict(self, question: str, answer: str) -> Verdict:
        assert self.backend is not None
        if self.backend.can_judge_yes_no:
            prompt = YES_NO_PROMPT.format(question=question, answer=answer)
            p_yes = self.backend.yes_probability(GenerationRequest.from_prompt(prompt, max_tokens=1))
            return Verdict("model", clamp_score(1.0 + 9.0 * p_yes), note=f"P(yes) = {p_yes:.2f}")
        result = LLMJudge(self.backend).rate_detailed(question, {"a": answer})
        return Verdict("model", result.scores["a"], note=result.raw_outputs.get("a", ""))

    def _break_near_ties(self, question: str, answers: Mapping[str, str], out: dict[str, Verdict]) -> None:
        if self.backend is None or len(out) < 2:
            return
        top = sorted(out, key=lambda k: -out[k].score)[:2]
        a, b = top
        if abs(out[a].score - out[b].score) >= NEAR_TIE:
            return
        winner = pairwise_prefer(self.backend, question, answers[a], answers[b]).winner
        if winner == "tie":
            return
        won, lost = (a, b) if winner == "a" else (b, a)
        out[won].score = clamp_score(out[won].score + PAIRWISE_STEP / 2)
        out[lost].score = clamp_score(out[lost].score - PAIRWISE_STEP / 2)
        out[won].note += " preferred in a swapped-position comparison"
