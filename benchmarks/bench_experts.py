"""Experts the network makes, against the base model they are made from, on the shipped quality set.

    .venv/bin/python benchmarks/bench_experts.py [--domains isle-of-varn,cuicen-tea] [--steps N] [--out DIR]

For each made-up domain of the quality set (``benchmarks/quality/``; its README states the correctness
rule), one run prints side by side, on the same questions of that domain:

- **base + retrieval**: SmolLM2-135M through llama.cpp, as an :class:`~llmnet.experts.ExpertBackend` over
  the domain's folder, exactly as a respondent serves it;
- **LoRA expert**: the same retrieval, llama.cpp applying the GGUF LoRA adapter trained for the domain;
- **prefix expert**: the same retrieval, the transformers backend with the prefix (P-tuning v2) trained
  for the domain;

with each expert's training time and peak memory (of the process that trained it, which is its own). The
LoRA expert runs on the same quantized weights as the base (Q4_1, llama.cpp); the prefix expert runs on
the same weights de-quantized to float32 by transformers, whose greedy text differs from llama.cpp's a
little even without a prefix. Every answer is saved (``answers.jsonl``) so a person
can audit it, with ``summary.json``.

**What the experts are trained on.** Only the domain's documents (``benchmarks/quality/knowledge/<domain>/``),
through :func:`llmnet.tuning.pairs.sft_examples`: questions generated from the documents' sentences, each
answered by its fact and then the clause that states it ("1962: The North Varn Dam was completed in
1962."). The quality set's questions and reference answers are never used for training or prompting; they
only score the answers afterwards. A question generated from a document may happen to be worded like a
question of the set (one in ``cuicen-tea`` is); the set's questions are given to the trainer as held out
(``TrainSpec.held_out``), so such a question is not trained on, and the bench checks this: it stops if any
training question equals (normalised: case, spaces and punctuation ignored) a question of the set.

A finished run folder (``<out>/runs/<domain>-<method>/expert.json``) is reused, so a rerun does not retrain;
an unfinished one resumes from its last checkpoint.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quality.dataset import CORRECTNESS_RULE, ROOT, QualityItem, domains, is_correct, knowledge_dir, load_items
from quality.runs import AnswerRecord, ask_backend, save
from rich.console import Console
from rich.table import Table

from llmnet.backends.base import Backend
from llmnet.experts import ExpertBackend, KnowledgeBase
from llmnet.tuning.manifest import ExpertManifest
from llmnet.tuning.pairs import SftExample, normalised_question, sft_examples
from llmnet.tuning.spec import Hyperparameters, TrainSpec

BASE = "smollm2"
METHODS = ("lora", "prefix")
LABELS = {"base": "base + retrieval", "lora": "LoRA expert", "prefix": "prefix expert"}
GOAL_POINTS = 10
QUESTIONS = ROOT / "questions.jsonl"  # held out: no training question may equal one of them
QUALITY_SET_LICENCE = "MIT"  # the quality set is part of llmnet, under its licence


@dataclass(frozen=True)
class Trained:
    """An expert the bench trained (or found trained) for one domain and method."""

    method: str
    run_dir: Path
    manifest: ExpertManifest


def check_no_leak(examples: Sequence[SftExample], items: Sequence[QualityItem]) -> None:
    """Stop if a training question is a question of the quality set: the experts must not see the test."""
    tested = {normalised_question(item.question) for item in items}
    for example in examples:
        question = example.messages[-1].content.rsplit("Question: ", 1)[-1]
        if normalised_question(question) in tested:
            raise SystemExit(f"training question {question!r} is a question of the quality set; refusing to train")


def train(domain: str, method: str, args: argparse.Namespace) -> Trained:
    """The expert of ``domain`` by ``method``: trained now, resumed, or read from its finished run folder."""
    run_dir = args.out / "runs" / f"{domain}-{method}"
    if (run_dir / "expert.json").is_file():
        return Trained(method, run_dir, ExpertManifest.load(run_dir))
    spec = TrainSpec(
        name=f"{domain}-{method}",
        domains=(domain,),
        base=BASE,
        method=method,
        knowledge=knowledge_dir(domain),
        knowledge_licence=QUALITY_SET_LICENCE,
        held_out=QUESTIONS,
        hyper=Hyperparameters(steps=args.steps, seed=args.seed),
    )
    # a process of its own per expert: its peak memory is the training's alone, and it is returned after
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        manifest = pool.submit(train_in_child, spec, run_dir, args.threads).result()
    return Trained(method, run_dir, manifest)


def train_in_child(spec: TrainSpec, run_dir: Path, threads: int) -> ExpertManifest:
    import torch

    from llmnet.tuning.train import train_expert

    torch.set_num_threads(threads)
    return train_expert(spec, run_dir, progress=True)


def serving_backend(trained: Trained, threads: int) -> Backend:
    """The trained expert's model as a respondent serves it: llama.cpp with the LoRA, transformers with the prefix."""
    from llmnet.backends import create_backend
    from llmnet.backends.llamacpp import LlamaCppBackend

    artifact = trained.run_dir / trained.manifest.artifact.file
    if trained.method == "lora":
        return LlamaCppBackend(model=BASE, n_threads=threads, lora=artifact)
    return create_backend("transformers", base=BASE, adapter=artifact.parent, n_threads=threads)


def answer_all(label: str, backend: Backend, kb: KnowledgeBase, items: Sequence[QualityItem],
               max_tokens: int) -> list[AnswerRecord]:  # fmt: skip
    expert = ExpertBackend(backend, kb)
    records = []
    for item in items:
        text, tokens, seconds, ttft = ask_backend(expert, item.question, max_tokens)
        records.append(AnswerRecord(label, item.id, label.split(":")[0], text, is_correct(item, text), tokens,
                                    seconds, ttft, routed=item.domain))  # fmt: skip
    return records


def run_domain(domain: str, items: Sequence[QualityItem], args: argparse.Namespace, log: Callable[[str], None],
               base: Backend) -> tuple[list[AnswerRecord], dict[str, Any]]:  # fmt: skip
    examples = sft_examples(knowledge_dir(domain), seed=args.seed, held_out=[item.question for item in load_items()])
    check_no_leak(examples, load_items())
    kb = KnowledgeBase.from_folder(knowledge_dir(domain))
    log(f"{domain}: {len(items)} questions; {len(examples)} training examples from its documents")
    records = answer_all(f"base:{domain}", base, kb, items, args.max_tokens)
    stats: dict[str, Any] = {"examples": len(examples)}
    for method in args.methods:
        trained = train(domain, method, args)
        log(f"{domain}: {method} expert in {trained.run_dir}")
        records += answer_all(f"{method}:{domain}", serving_backend(trained, args.threads), kb, items,
                              args.max_tokens)  # fmt: skip
        t = trained.manifest.training
        stats[method] = {"seconds": t.seconds, "peak_rss_mb": t.peak_rss_mb, "steps": t.steps,
                         "final_loss": t.final_loss, "sha256": trained.manifest.artifact.sha256}  # fmt: skip
    return records, stats


def accuracy(records: Sequence[AnswerRecord], label: str) -> tuple[int, int]:
    mine = [r for r in records if r.config == label]
    return sum(r.correct for r in mine), len(mine)


def summarise(
    records: Sequence[AnswerRecord], stats: dict[str, dict[str, Any]], methods: Sequence[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for domain, own in stats.items():
        row: dict[str, Any] = {"examples": own["examples"]}
        for method in ("base", *methods):
            right, n = accuracy(records, f"{method}:{domain}")
            row[method] = {"correct": right, "n": n, "accuracy": right / n if n else 0.0} | own.get(method, {})
        out[domain] = row
    return out


def print_table(console: Console, summary: dict[str, Any], methods: Sequence[str]) -> None:
    table = Table(title="experts the network makes, on their own domain (quality set, retrieval for all)")
    table.add_column("domain")
    for method in ("base", *methods):
        table.add_column(LABELS[method], justify="right")
    for method in methods:
        table.add_column(f"{method}: gain, training, peak RSS", justify="right")
    for domain, row in summary.items():
        cells = [f"{row[m]['correct']}/{row[m]['n']} ({row[m]['accuracy']:.0%})" for m in ("base", *methods)]
        for m in methods:
            gain = 100 * (row[m]["accuracy"] - row["base"]["accuracy"])
            cells.append(f"{gain:+.0f} pts, {row[m]['seconds']:.0f} s, {row[m]['peak_rss_mb']:.0f} MB")
        table.add_row(domain, *cells)
    console.print(table)
    console.print(f"goal: each trained expert at least {GOAL_POINTS} points above the base with the same retrieval")
    console.print(f"correctness rule: {CORRECTNESS_RULE}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", default=",".join(domains()), help="comma-separated domains of the quality set")
    parser.add_argument("--methods", default=",".join(METHODS), help="lora, prefix or both")
    parser.add_argument("--steps", type=int, default=80, help="training steps per expert (of 4 examples)")
    parser.add_argument("--limit", type=int, help="only the first N questions of each domain (a quick look)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for training and answering")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/experts"))
    args = parser.parse_args(argv)
    args.domains = [d for d in args.domains.split(",") if d]
    args.methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(args.domains) - set(domains())) + sorted(set(args.methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown domain or method {unknown}; domains: {list(domains())}, methods: {list(METHODS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    from llmnet.backends.llamacpp import LlamaCppBackend

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    console = Console(width=160)
    started = time.perf_counter()
    base = LlamaCppBackend(model=BASE, n_threads=args.threads)
    records: list[AnswerRecord] = []
    stats: dict[str, dict[str, Any]] = {}
    for domain in args.domains:
        items = [item for item in load_items() if item.domain == domain][: args.limit]
        done, stats[domain] = run_domain(domain, items, args, console.log, base)
        records += done
        save(records, args.out / "answers.jsonl")
    summary = summarise(records, stats, args.methods)
    print_table(console, summary, args.methods)
    seconds = time.perf_counter() - started
    (args.out / "summary.json").write_text(json.dumps({"domains": summary, "seconds": seconds}, indent=1))
    console.print(f"every answer: {args.out / 'answers.jsonl'}; this run took {seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
