"""How often the network answers right, against each provider alone, on the shipped quality set.

    .venv/bin/python benchmarks/bench_quality.py [--limit N] [--validators 2] [--out DIR]

The set (``benchmarks/quality/``, see its README for the correctness rule) has questions about four
made-up domains, whose facts no model knows without the documents, one of them in Chinese, and general
and arithmetic questions. Six providers: an expert per domain (Gemma-3-270M with the domain's documents)
and two general models (SmolLM2-135M and Gemma-3-270M). No reference answer reaches any validator or the
coordinator; answers are checked against the references only after they are in.

One run prints, side by side: accuracy, respondent tokens per request, p50 latency and time to first token
for each provider alone (in this process, so without any network overhead), random routing (k = 1), each
question's own-domain expert alone, the network with fixed k = 3 and one debate round, and the network with
its defaults (adaptive collaboration); the ceiling (questions some respondent answered right); the domain
detection of ``llmnet/auto``; and the validators' agreement with the truth, with its confusion table, on
every answer they scored and on the hand-made near misses. Every answer is saved under ``--out``.

The network runs fixed k = 3 first, so reputation has been learnt from its ratings when the defaults run,
as it would be in a network that has been serving for a while.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from quality import report
from quality.dataset import QualityItem, domains, is_correct, knowledge_dir, load_items, load_near_misses
from quality.runs import AnswerRecord, provider_names, run_network, run_single, save
from rich.console import Console
from rich.table import Table

from llmnet.config import load_settings
from llmnet.launcher import Network, NetworkOptions, RespondentPlan
from llmnet.roles.validator import JudgeSpec

GEMMA = {"model": "gemma3-270m", "mode": "completion", "n_threads": 1}
CONFIGS = {"fixed k=3, 1 round": {"k": 3, "rounds": 1}, "llmnet defaults": {}}


def plans(names: list[str]) -> tuple[RespondentPlan, ...]:
    # the experts run Gemma-3-270M, which copies a fact from its evidence more faithfully than SmolLM2-135M
    # (and reads Chinese); the general models are one of each
    experts = tuple(RespondentPlan(f"{d}-expert", (d,), d, options=GEMMA, licence="Gemma",
                                   version="Gemma-3-270M base Q4_K_M") for d in names)  # fmt: skip
    everything = ("general", *names)
    gemma = RespondentPlan("general-gemma", everything, options=GEMMA, licence="Gemma",
                           version="Gemma-3-270M base Q4_K_M")  # fmt: skip
    return (*experts, RespondentPlan("general", everything), gemma)


def run_network_configs(args: argparse.Namespace, items: list[QualityItem], plan: tuple[RespondentPlan, ...],
                        root: Path) -> list[AnswerRecord]:  # fmt: skip
    records: list[AnswerRecord] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base_port
        settings = load_settings(data_dir=Path(tmp), chain_port=base + 45, domains=("general", *domains()))
        options = NetworkOptions(coordinator_port=base, respondent_base_port=base + 11, validator_base_port=base + 21,
                                 respondents=plan, validators=args.validators, judge=args.judge, k=3, rounds=1,
                                 max_tokens=args.max_tokens, gold_rate=0.0, spot_check_rate=0.0,
                                 knowledge_root=root, seed=args.seed)  # fmt: skip
        net = Network(settings, options)
        net.start()
        try:
            names = provider_names(plan)
            for label, llmnet in CONFIGS.items():
                records += run_network(label, net.base_url, net.api_key, items, llmnet, args.max_tokens, names)
                time.sleep(args.settle_s)  # let the settler record this config's ratings as reputation
        finally:
            net.stop()
    return records


def near_miss_pairs(judge_kind: str) -> list[tuple[bool, bool]]:
    """The validators' judge, built as a validator builds it, on the hand-made near misses."""
    judge = JudgeSpec(kind=judge_kind, corpora={d: knowledge_dir(d) for d in domains()}).build()
    items = {item.id: item for item in load_items()}
    pairs = []
    for miss in load_near_misses():
        item = items[miss.question_id]
        score = judge.rate(item.question, {"a": miss.answer}, domain=item.domain)["a"]
        pairs.append((is_correct(item, miss.answer), score >= report.GOOD_SCORE))
    return pairs


def print_tables(console: Console, rows: list[report.Row], extra: dict[str, Any]) -> None:
    table = Table(title=f"quality set: {extra['questions']} questions (correctness rule: benchmarks/quality/README.md)")
    for col in ("who answers", "accuracy", "respondent tokens / request", "tokens, easiest third", "p50 latency",
                "p50 time to first token"):  # fmt: skip
        table.add_column(col, justify="left" if col == "who answers" else "right")
    for r in rows:
        table.add_row(r.label, f"{r.correct}/{r.n} ({r.accuracy:.0%})", f"{r.tokens:.0f}",
                      "" if r.easy_tokens is None else f"{r.easy_tokens:.0f}", f"{r.p50_s:.2f} s",
                      "" if r.ttft_p50_s is None else f"{r.ttft_p50_s:.2f} s")  # fmt: skip
    console.print(table)
    right, total = extra["ceiling"]
    console.print(f"ceiling (some respondent answered right): {right}/{total} ({right / total:.0%})")
    for key, (ok, n) in extra["detection"].items():
        console.print(f"domain detection of llmnet/auto, {key}: {ok}/{n} ({ok / n:.0%})")
    for label in ("network ratings", "near misses"):
        cells = extra[label]
        cell_text = ", ".join(f"{k}: {v}" for k, v in cells.items())
        console.print(f"validator agreement with the truth, {label}: {report.agreement(cells):.0%} ({cell_text})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="only the first N questions (a quick look; not the figure)")
    parser.add_argument("--validators", type=int, default=2)
    parser.add_argument("--judge", default="grounded", help="the validators' judge kind")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="providers answering alone at the same time")
    parser.add_argument("--settle-s", type=float, default=15.0, help="pause after each network configuration")
    parser.add_argument("--base-port", type=int, default=19600)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results") / time.strftime("quality-%Y%m%d-%H%M%S"))
    args = parser.parse_args()
    console = Console(width=150)
    items = load_items()[: args.limit] if args.limit else load_items()
    root = knowledge_dir(next(iter(domains()))).parent
    plan = plans(list(domains()))
    records: list[AnswerRecord] = []
    console.log(f"each of {len(plan)} providers alone on {len(items)} questions, {args.workers} at a time")
    with ThreadPoolExecutor(args.workers) as pool:  # one llama.cpp thread each
        for done in pool.map(lambda p: run_single(p, root, items, args.max_tokens), plan):
            records += done
    console.log("the network")
    records += run_network_configs(args, items, plan, root)
    save(records, args.out / "answers.jsonl")
    configs = report.by_config(records)
    singles = {k: v for k, v in configs.items() if k.startswith("single:")}
    easy = report.easiest_third(items, singles)
    expert_of = {d: f"{d}-expert" for d in domains()} | {"general": "general"}
    rows = [report.row(k.removeprefix("single:") + " alone", v, easy) for k, v in singles.items()]
    rows.append(report.row("random routing, k = 1", report.random_routing(items, singles, args.seed), easy))
    rows.append(report.row("own-domain expert alone", report.own_expert(items, singles, expert_of), easy))
    rows += [report.row(f"network: {label}", configs[f"network:{label}"], easy) for label in CONFIGS]
    extra = {"questions": len(items), "ceiling": report.ceiling(items, records),
             "detection": report.detection(items, configs["network:llmnet defaults"]),
             "network ratings": report.confusion(report.validator_pairs(records)),
             "near misses": report.confusion(near_miss_pairs(args.judge))}  # fmt: skip
    print_tables(console, rows, extra)
    (args.out / "summary.json").write_text(json.dumps(report.summary(rows, extra), indent=1, ensure_ascii=False))
    console.print(f"every answer: {args.out / 'answers.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
