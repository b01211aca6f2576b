"""Small GGUF models side by side on the quality set: as a domain expert and as a yes/no judge.

    .venv/bin/python benchmarks/small_models.py [--every 3] [--model NAME=PATH[:MODE] ...] [--json OUT.json]

The packaged models (SmolLM2-135M-Instruct in chat mode, Gemma-3-270M base in completion mode, as
``bench_quality.py`` runs it) are always measured; ``--model`` adds a GGUF file from anywhere.

Expert: every ``--every``-th question of each made-up domain (Chinese included) is answered by
``ExpertBackend(model, the domain's documents)`` with at most 48 tokens at temperature 0, and
marked by ``quality.dataset.is_correct``. Judge (chat models only): every answer of
``near_misses.jsonl`` is shown to the model with the sentences of the domain's documents that best
state what the question asks, never the reference, and read as a yes/no verdict from the token
probabilities (P(yes) >= 0.5 counts as "rated right"). One thread per model, one model at a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from quality.dataset import QualityItem, domains, is_correct, knowledge_dir, load_items, load_near_misses

from llmnet.backends.base import GenerationRequest
from llmnet.backends.llamacpp import LlamaCppBackend, Mode, gemma_path, smollm2_path
from llmnet.experts.expert import ExpertBackend
from llmnet.experts.knowledge import KnowledgeBase
from llmnet.facts.evidence import EvidenceIndex

MAX_TOKENS = 48
JUDGE_PROMPT = (
    "{facts}Question: {question}\nProposed answer: {answer}\n"
    "Is the proposed answer correct? Reply with one word: yes or no."
)


def packaged() -> dict[str, tuple[Path, Mode]]:
    return {"smollm2-135m": (smollm2_path(), "chat"), "gemma3-270m": (gemma_path(), "completion")}


def parse_model(spec: str) -> tuple[str, tuple[Path, Mode]]:
    name, _, rest = spec.partition("=")
    path, _, mode = rest.partition(":")
    return name, (Path(path), "completion" if mode == "completion" else "chat")


def expert_run(model: LlamaCppBackend, items: list[QualityItem]) -> list[dict[str, Any]]:
    experts = {d: ExpertBackend(model, KnowledgeBase.from_folder(knowledge_dir(d))) for d in domains()}
    rows = []
    for item in items:
        request = GenerationRequest.from_prompt(item.question, max_tokens=MAX_TOKENS, temperature=0.0)
        start = time.perf_counter()
        answer = experts[item.domain].answer(request).completion.text
        seconds = time.perf_counter() - start
        rows.append({"id": item.id, "domain": item.domain, "answer": answer, "seconds": seconds,
                     "correct": is_correct(item, answer)})  # fmt: skip
    return rows


def judge_run(model: LlamaCppBackend, items: dict[str, QualityItem]) -> list[dict[str, Any]]:
    indexes = {d: EvidenceIndex(KnowledgeBase.from_folder(knowledge_dir(d))) for d in domains()}
    rows = []
    for case in load_near_misses():
        item = items[case.question_id]
        index = indexes.get(item.domain)  # general questions have no documents: the model judges alone
        found = index.find(item.question, case.answer) if index is not None else None
        facts = [found.before_best(), *found.sentences[:2]] if found is not None else []
        shown = "".join(f"- {f}\n" for f in facts if f)
        prompt = JUDGE_PROMPT.format(facts=f"Facts:\n{shown}\n" if shown else "", question=item.question,
                                     answer=case.answer)  # fmt: skip
        start = time.perf_counter()
        p_yes = model.yes_probability(GenerationRequest.from_prompt(prompt, max_tokens=1))
        rows.append({"question_id": case.question_id, "kind": case.kind, "truth": case.correct, "p_yes": p_yes,
                     "seconds": time.perf_counter() - start, "agrees": (p_yes >= 0.5) == case.correct})  # fmt: skip
    return rows


def print_expert(name: str, rows: list[dict[str, Any]]) -> None:
    by_domain: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        by_domain[row["domain"]].append(row["correct"])
    cells = "  ".join(f"{d} {sum(v)}/{len(v)}" for d, v in sorted(by_domain.items()))
    right = sum(r["correct"] for r in rows)
    per = sum(r["seconds"] for r in rows) / max(len(rows), 1)
    print(f"expert {name:<14} {right}/{len(rows)} = {right / max(len(rows), 1):.0%}  {per:.1f} s/answer  {cells}")


def print_judge(name: str, rows: list[dict[str, Any]]) -> None:
    table = {
        (t, g): sum(1 for r in rows if r["truth"] == t and (r["p_yes"] >= 0.5) == g) for t in (1, 0) for g in (1, 0)
    }
    agree = sum(r["agrees"] for r in rows)
    per = sum(r["seconds"] for r in rows) / max(len(rows), 1)
    print(f"judge  {name:<14} {agree}/{len(rows)} = {agree / max(len(rows), 1):.0%}  {per:.2f} s/rating  "
          f"right rated yes/no {table[(1, 1)]}/{table[(1, 0)]}, wrong rated yes/no {table[(0, 1)]}/{table[(0, 0)]}"
          f"  AUC {auc(rows):.2f}  best threshold {best_threshold(rows)}")  # fmt: skip


def auc(rows: list[dict[str, Any]]) -> float:
    """How often a right answer gets a higher P(yes) than a wrong one (ties count half): 0.5 is chance."""
    right = [r["p_yes"] for r in rows if r["truth"]]
    wrong = [r["p_yes"] for r in rows if not r["truth"]]
    pairs = [1.0 if a > b else 0.5 if a == b else 0.0 for a in right for b in wrong]
    return sum(pairs) / max(len(pairs), 1)


def best_threshold(rows: list[dict[str, Any]]) -> str:
    """The agreement a threshold chosen with hindsight would give: an upper bound, not a result."""
    cuts = sorted({r["p_yes"] for r in rows})
    hits = {c: sum((r["p_yes"] >= c) == r["truth"] for r in rows) for c in cuts}
    cut = max(hits, key=lambda c: hits[c])
    return f"{hits[cut]}/{len(rows)} at P(yes) >= {cut:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=3, help="take every N-th question of each domain")
    parser.add_argument("--model", action="append", default=[], help="NAME=PATH[:chat|completion], repeatable")
    parser.add_argument("--no-judge", action="store_true", help="measure the models as experts only")
    parser.add_argument("--json", type=Path, help="save every answer and rating here")
    args = parser.parse_args(argv)
    models = packaged() | dict(parse_model(spec) for spec in args.model)
    every = load_items()
    by_domain: dict[str, list[QualityItem]] = defaultdict(list)
    for item in every:
        if item.domain in domains():
            by_domain[item.domain].append(item)
    chosen = [item for items in by_domain.values() for item in items[:: args.every]]
    saved: dict[str, Any] = {}
    for name, (path, mode) in models.items():
        model = LlamaCppBackend(path, mode=mode, n_threads=1)
        saved[name] = {"expert": expert_run(model, chosen)}
        print_expert(name, saved[name]["expert"])
        if not args.no_judge:
            chat = model if mode == "chat" else LlamaCppBackend(path, mode="chat", n_threads=1)
            saved[name]["judge"] = judge_run(chat, {item.id: item for item in every})
            print_judge(name, saved[name]["judge"])
        sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(saved, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
