"""``llmnet sim --real``: the simulation with local llama.cpp respondents and judges (see
:mod:`llmnet.sim.real`): a table per policy with accuracy, PNG plots and JSON like ``llmnet sim``."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from llmnet.reputation.consensus import normalize_score
from llmnet.sim.metrics import accuracy, summarize
from llmnet.sim.plots import comparison_figure, main_figure
from llmnet.sim.real import AnswerBook, ModelFactory, RealSetting, answers_needed, load_setting, run_real
from llmnet.sim.runner import Trace
from llmnet.sim.scenario import LLMNET_POLICY, Population, Scenario

_out = Console()


def policy_rows(traces: list[Trace], warmup: int, correct_at: float) -> list[dict[str, Any]]:
    """Per policy: accuracy, expert share after warm-up, cumulative regret, delivered quality."""
    rows = []
    for t in traces:
        s = summarize(t, warmup)
        rows.append({**asdict(s), "accuracy": accuracy(t, normalize_score(correct_at))})
    return rows


def policy_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="policies on the same questions, real models answering and judging")
    for column in ("policy", "accuracy", "experts after warm-up", "cumulative regret", "delivered quality"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    best = max(r["accuracy"] for r in rows)
    for r in rows:
        name = f"[bold]{r['policy']} (llmnet)[/]" if r["policy"] == LLMNET_POLICY else r["policy"]
        acc = f"{r['accuracy']:.1%}" + (" *" if r["accuracy"] == best else "")
        table.add_row(name, acc, f"{r['expert_share_after_warmup']:.1%}", f"{r['cumulative_regret']:.1f}",
                      f"{r['delivered_quality']:.3f}")  # fmt: skip
    return table


def respondent_rows(book: AnswerBook, pop: Population, correct_at: float) -> list[dict[str, Any]]:
    """Per respondent and domain it serves: the share of the domain's questions it answers correctly."""
    rows = []
    for i, r in enumerate(book.respondents):
        for d in r.domains:
            scores = [book.reference_score(q, book.answer(i, q)) for q, x in enumerate(book.questions) if x.domain == d]
            correct = sum(s >= correct_at for s in scores) / len(scores)
            rows.append({"respondent": r.name, "expert": r.expert, "domain": d, "accuracy": correct,
                         "quality": pop.quality[i, pop.domain_names.index(d)]})  # fmt: skip
    return rows


def respondent_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="respondents: answers judged correct against the reference, per domain")
    for column in ("respondent", "domain", "correct", "mean reference score (0-1)"):
        table.add_column(column, justify="left" if column in ("respondent", "domain") else "right")
    for r in rows:
        table.add_row(r["respondent"], r["domain"], f"{r['accuracy']:.0%}", f"{r['quality']:.3f}")
    return table


def answer_records(book: AnswerBook) -> list[dict[str, Any]]:
    """Every generated answer with its reference score and each judge model's rating."""
    judged: dict[tuple[int, str], dict[str, float]] = {}
    for (model, q, text), score in book.ratings.items():
        judged.setdefault((q, text), {})[model] = score
    return [
        {"respondent": book.respondents[p].name, "question": book.questions[q].question,
         "reference": book.questions[q].reference, "answer": text,
         "reference_score": book.reference_score(q, text), "ratings": judged.get((q, text), {})}
        for (p, q), text in sorted(book.answers.items())
    ]  # fmt: skip


def sim_real(base: Scenario, questions: Path, knowledge: Path, models: ModelFactory, max_tokens: int,
             correct_at: float, out: Path, plots: bool) -> None:  # fmt: skip
    started = time.perf_counter()
    setting = load_setting(base, questions, knowledge, models, max_tokens)
    pop, traces, book = _run(setting)
    people = respondent_rows(book, pop, correct_at)
    rows = policy_rows(traces, setting.scenario.warmup_per_domain, correct_at)
    _out.print(respondent_table(people))
    _out.print(policy_table(rows))
    _out.print(f"correct: the reference judge scores the answer delivered (the best-rated) at least {correct_at:g}/10")
    wall = time.perf_counter() - started
    run = {"wall_s": wall, "answers": len(book.answers), "ratings": len(book.ratings),
           "generation_s": book.generation_s, "judging_s": book.judging_s}  # fmt: skip
    _out.print(f"wall time {wall:.1f} s: {run['answers']} answers generated in {book.generation_s:.1f} s, "
               f"{run['ratings']} judge ratings in {book.judging_s:.1f} s")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    report = {"scenario": asdict(setting.scenario), "questions": str(questions), "correct_at": correct_at,
              "max_tokens": max_tokens, "summaries": rows, "respondents": people, "run": run}  # fmt: skip
    (out / "summary.json").write_text(json.dumps(report, indent=2))
    (out / "answers.json").write_text(json.dumps(answer_records(book), indent=2, ensure_ascii=False))
    if plots:
        main_figure(traces, pop, out / "simulation.png")
        comparison_figure([summarize(t, setting.scenario.warmup_per_domain) for t in traces], out / "baselines.png")
    _out.print(f"numbers: {out / 'summary.json'}, answers: {out / 'answers.json'}" + (", plots there" if plots else ""))


def _run(setting: RealSetting) -> tuple[Population, list[Trace], AnswerBook]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    s = setting.scenario
    with Progress(*columns, console=_out) as progress:
        answers = progress.add_task("answers (each once)", total=answers_needed(setting))
        tasks = {p: progress.add_task(p, total=s.requests) for p in s.policies}

        def advance(policy: str, n: int, expert_share: float) -> None:
            progress.update(tasks[policy], advance=n, description=f"{policy:15s} experts {expert_share:6.1%}")

        return run_real(setting, advance, lambda: progress.update(answers, advance=1))
