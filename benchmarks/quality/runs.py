"""How bench_quality gets its answers: each provider alone, in this process, and the network over HTTP.

Every answer becomes one :class:`AnswerRecord`, saved as a JSON line so a person can audit it.
Nothing here gives a reference answer to anything that routes or rates: the network is started on
the quality set's documents only (its ``questions.jsonl`` lives outside the knowledge root, so the
coordinator has no reference book), and the references are used only by :func:`quality.dataset.is_correct`
after the answers are in.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from llmnet.backends.base import Backend
from llmnet.chain.network import dev_account
from llmnet.launcher import RespondentPlan, respondent_dev
from llmnet.roles.protocol import Message, RespondPayload
from llmnet.roles.respondent import BackendSpec
from quality.dataset import QualityItem, is_correct


@dataclass
class AnswerRecord:
    """One answer to one question, as the benchmark saw it."""

    config: str  # e.g. "single:general", "network:defaults", "respondent:fixed k=3"
    item: str  # question id
    provider: str  # who wrote the text (for the network, the respondent it chose)
    text: str
    correct: bool
    tokens: int  # respondent tokens (prompt + completion) this answer cost, all generations included
    latency_s: float
    ttft_s: float | None  # time to the first non-empty piece of text
    routed: str | None = None  # the domain the network chose
    score: float | None = None  # the validators' consensus score of this answer (1-10)
    extra: dict[str, Any] = field(default_factory=dict)


def save(records: Sequence[AnswerRecord], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for r in records:
            out.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")


# --- each provider alone ----------------------------------------------------------------------------


def backend_of(plan: RespondentPlan, knowledge_root: Path) -> Backend:
    """The backend a respondent of ``plan`` serves, built the same way the respondent builds it."""
    knowledge = knowledge_root / plan.knowledge if plan.knowledge else None
    return BackendSpec(kind=plan.backend, options=plan.options, knowledge=knowledge).build()


def ask_backend(backend: Backend, question: str, max_tokens: int) -> tuple[str, int, float, float | None]:
    """(text, tokens, seconds, seconds to first text) for one question, as a respondent asks it."""
    payload = RespondPayload(messages=[Message(role="user", content=question)], max_tokens=max_tokens)
    started, first, parts, tokens = time.perf_counter(), None, [], 0
    for chunk in backend.generate(payload.generation_request()):
        if chunk.text and first is None:
            first = time.perf_counter() - started
        parts.append(chunk.text)
        if chunk.usage is not None:
            tokens = chunk.usage.prompt_tokens + chunk.usage.completion_tokens
    return "".join(parts).strip(), tokens, time.perf_counter() - started, first


def run_single(
    plan: RespondentPlan, knowledge_root: Path, items: Sequence[QualityItem], max_tokens: int
) -> list[AnswerRecord]:
    backend = backend_of(plan, knowledge_root)
    records = []
    for item in items:
        text, tokens, seconds, ttft = ask_backend(backend, item.question, max_tokens)
        records.append(AnswerRecord(f"single:{plan.name}", item.id, plan.name, text, is_correct(item, text),
                                    tokens, seconds, ttft))  # fmt: skip
    return records


# --- the network -----------------------------------------------------------------------------------


def provider_names(plans: Sequence[RespondentPlan]) -> dict[str, str]:
    """Respondent address -> plan name, as the launcher assigns development accounts."""
    return {dev_account(respondent_dev(i)).address: plan.name for i, plan in enumerate(plans)}


def _sse(response: httpx.Response) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines():
        if line.startswith("data: ") and line != "data: [DONE]":
            yield json.loads(line[6:])


def ask_network(client: httpx.Client, base_url: str, key: str, item: QualityItem, llmnet: dict[str, Any],
                max_tokens: int) -> tuple[str, float, float | None, dict[str, Any]]:  # fmt: skip
    """(text, seconds, seconds to first text, the final chunk's llmnet block) of one streamed request."""
    body = {"model": "llmnet/auto", "messages": [{"role": "user", "content": item.question}], "stream": True,
            "max_tokens": max_tokens, "llmnet": llmnet}  # fmt: skip
    started, first, parts, block = time.perf_counter(), None, [], {}
    headers = {"authorization": f"Bearer {key}"}
    with client.stream("POST", f"{base_url}/chat/completions", json=body, headers=headers) as response:
        response.raise_for_status()
        for event in _sse(response):
            if "error" in event:
                raise RuntimeError(f"{item.id}: the network failed: {event['error']}")
            delta = event["choices"][0]["delta"].get("content") if event.get("choices") else None
            if delta and first is None:
                first = time.perf_counter() - started
            parts.append(delta or "")
            block = event.get("llmnet", block)
    return "".join(parts).strip(), time.perf_counter() - started, first, block


def run_network(label: str, base_url: str, key: str, items: Sequence[QualityItem], llmnet: dict[str, Any],
                max_tokens: int, names: dict[str, str]) -> list[AnswerRecord]:  # fmt: skip
    """Every question through ``llmnet/auto``; the returned answer and each respondent's own answer."""
    records = []
    by_id = {item.id: item for item in items}
    with httpx.Client(timeout=600) as client:
        for item in items:
            text, seconds, ttft, block = ask_network(client, base_url, key, item, llmnet, max_tokens)
            receipt = block["receipt"]
            scores = {r["address"]: r["score"] for r in receipt["respondents"]}
            final = receipt["final_respondent"]
            extra = {"escalated": receipt["collaboration"]["escalated"], "rounds": receipt["rounds"],
                     "trusted_lead": receipt["collaboration"]["trusted_lead"],
                     "respondents": [names.get(a, a) for a in block["answers"]]}  # fmt: skip
            records.append(AnswerRecord(f"network:{label}", item.id, names.get(final, final), text,
                                        is_correct(item, text), receipt["respondent_tokens"], seconds, ttft,
                                        routed=receipt["domain"], score=scores.get(final), extra=extra))  # fmt: skip
            for who, answer in block["answers"].items():
                records.append(AnswerRecord(f"respondent:{label}", item.id, names.get(who, who), answer,
                                            is_correct(by_id[item.id], answer), 0, 0.0, None,
                                            routed=receipt["domain"], score=scores.get(who)))  # fmt: skip
    return records
