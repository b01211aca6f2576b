"""``llmnet sim``: the reputation experiment with baselines, metrics as it goes and PNG plots."""

from __future__ import annotations

import gc
import json
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from llmnet.errors import InputError
from llmnet.sim.metrics import Summary, summarize
from llmnet.sim.runner import Trace, run_scenario
from llmnet.sim.scenario import LLMNET_POLICY, POLICIES, Population, Scenario

_out = Console()


def _names(text: str, what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names and what == "policies":
        raise InputError("--policies is empty: give a comma-separated list, e.g. --policies thompson,random")
    return names


def results_table(summaries: list[Summary], attackers: bool) -> Table:
    table = Table(title="policies on the same request stream")
    for column in ("policy", "experts after warm-up", "cumulative regret", "delivered quality"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    if attackers:
        table.add_column("attackers after warm-up", justify="right")
    best = min(s.cumulative_regret for s in summaries)
    for s in summaries:
        name = f"[bold]{s.policy} (llmnet)[/]" if s.policy == LLMNET_POLICY else s.policy
        regret = f"{s.cumulative_regret:.1f}" + (" *" if s.cumulative_regret == best else "")
        row = [name, f"{s.expert_share_after_warmup:.1%}", regret, f"{s.delivered_quality:.3f}"]
        table.add_row(*row, *([f"{s.attacker_share_after_warmup:.1%}"] if attackers else []))
    return table


def verdict(summaries: list[Summary]) -> str:
    """The done-when goal in words: 90 % to experts, and which baselines beat llmnet on regret."""
    main = next((s for s in summaries if s.policy == LLMNET_POLICY), None)
    if main is None:
        return f"{LLMNET_POLICY} (llmnet) was not run"
    beaten_by = [
        s.policy for s in summaries if s.policy != main.policy and s.cumulative_regret <= main.cumulative_regret
    ]
    share = f"llmnet sends {main.expert_share_after_warmup:.1%} of traffic to experts after warm-up"
    share += " (goal 90 %: met)" if main.expert_share_after_warmup >= 0.9 else " (goal 90 %: NOT met)"
    regret = "lowest regret of all policies" if not beaten_by else f"regret not lower than: {', '.join(beaten_by)}"
    return f"{share}; {regret}"


def sim(
    providers: Annotated[int, typer.Option(help="respondents (experts + general models, plus attackers)")] = 50,
    requests: Annotated[int, typer.Option(help="requests each policy serves")] = 2000,
    domains: Annotated[int, typer.Option(help="knowledge domains (0: 5, more for large --providers)")] = 0,
    seed: Annotated[int, typer.Option(help="random seed: the same seed gives the same results")] = 0,
    k: Annotated[int, typer.Option("--k", help="respondents asked per request")] = 2,
    policies: Annotated[str, typer.Option(help="comma-separated: " + ",".join(POLICIES))] = ",".join(POLICIES),
    attackers: Annotated[str, typer.Option(help="comma-separated: lazy,sybil,random,colluding")] = "",
    experts_per_domain: Annotated[int, typer.Option(help="true experts per domain")] = 3,
    validators: Annotated[int, typer.Option(help="honest validators")] = 5,
    batch: Annotated[int, typer.Option(help="requests per settlement batch (0: requests/200, at least 20)")] = 0,
    out: Annotated[Path, typer.Option(help="directory for the plots and summary.json")] = Path("sim-out"),
    plots: Annotated[bool, typer.Option(help="write PNG plots")] = True,
    real: Annotated[bool, typer.Option(help="real local models answer and judge (see llmnet.sim.real)")] = False,
    questions: Annotated[Path | None, typer.Option(help="--real: questions with references (JSON lines)")] = None,
    max_tokens: Annotated[int, typer.Option(help="--real: longest answer, in tokens")] = 48,
    correct_at: Annotated[float, typer.Option(help="--real: reference score (1-10) that counts as correct")] = 7.0,
) -> None:
    """Simulate the network: respondents of hidden quality, validators with noise and bias,
    the live network's selection, consensus, trust and settlement on an in-memory ledger,
    beside the baselines. With --real, local llama.cpp models answer real questions and judge them."""
    if real:
        fixed = {"--providers": providers != 50, "--domains": domains != 0, "--attackers": bool(attackers),
                 "--experts-per-domain": experts_per_domain != 3, "--validators": validators != 5}  # fmt: skip
        base = Scenario(requests=requests, seed=seed, k=k, batch=batch, policies=_names(policies, "policies"))
        _real(base, [flag for flag, given in fixed.items() if given], questions, max_tokens, correct_at, out, plots)
        return
    scenario = Scenario(
        providers=providers, requests=requests, domains=domains, seed=seed, k=k, validators=validators,
        experts_per_domain=experts_per_domain, batch=batch, policies=_names(policies, "policies"),
        attackers=_names(attackers, "attackers"),
    )  # fmt: skip
    started = time.perf_counter()
    pop, traces = _run(scenario)
    summaries = [summarize(t, scenario.warmup_per_domain) for t in traces]
    _out.print(results_table(summaries, bool(scenario.attackers)))
    _out.print(verdict(summaries))
    _out.print(validator_line(next((t for t in traces if t.policy == LLMNET_POLICY), traces[0]), pop))
    _write(out, scenario, summaries, traces, pop, plots)
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    served = requests * len(scenario.policies)
    _out.print(f"wall time {wall:.1f} s, peak RSS {peak_mb:.0f} MB, {served:,} requests")
    report = json.loads((out / "summary.json").read_text())
    report["run"] = {"wall_s": wall, "peak_rss_mb": peak_mb, "requests": served}
    (out / "summary.json").write_text(json.dumps(report, indent=2))


def validator_kinds(trace: Trace, pop: Population) -> dict[str, dict[str, float]]:
    """Per kind of validator (honest, random, colluding): its mean final trust and its kind's share of the
    consensus weight."""
    kinds = np.array(pop.validator_kind)
    return {
        kind: {"trust": float(trace.validator_trust[kinds == kind].mean()),
               "weight_share": float(trace.validator_share[kinds == kind].sum())}
        for kind in dict.fromkeys(pop.validator_kind)
    }  # fmt: skip


def validator_line(trace: Trace, pop: Population) -> str:
    parts = [f"{kind} trust {v['trust']:.2f} ({v['weight_share']:.1%} of the consensus weight)"
             for kind, v in validator_kinds(trace, pop).items()]  # fmt: skip
    return f"validators under {trace.policy}, at the end: " + "; ".join(parts)


def _real(base: Scenario, inapplicable: list[str], questions: Path | None, max_tokens: int, correct_at: float,
          out: Path, plots: bool) -> None:  # fmt: skip
    if inapplicable:
        raise InputError(
            f"{', '.join(inapplicable)} do not apply to --real: its respondents, domains and validators are the "
            "local models and the knowledge folders (see `llmnet.sim.real`); drop them"
        )
    if max_tokens < 1 or not 1.0 <= correct_at <= 10.0:
        raise InputError(f"--max-tokens must be at least 1 and --correct-at in 1-10, got {max_tokens}, {correct_at}")
    from llmnet.cli.sim_real import sim_real
    from llmnet.data import KNOWLEDGE_ROOT, QUESTIONS_FILE
    from llmnet.sim.real import packaged_model

    questions = questions or QUESTIONS_FILE
    sim_real(base, questions, KNOWLEDGE_ROOT, packaged_model, max_tokens, correct_at, out, plots)


def _run(scenario: Scenario) -> tuple[Population, list[Trace]]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=_out) as progress:
        tasks = {p: progress.add_task(p, total=scenario.requests) for p in scenario.policies}

        def advance(policy: str, n: int, expert_share: float) -> None:
            progress.update(tasks[policy], advance=n, description=f"{policy:15s} experts {expert_share:6.1%}")

        with few_collections():
            return run_scenario(scenario, advance)


@contextmanager
def few_collections() -> Iterator[None]:
    """The cyclic garbage collector runs rarely inside: a run keeps millions of acyclic records
    (the ledger's tasks, the rows of each batch), and scanning them at the default thresholds
    took 7 % of a 1,000,000-request run."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _write(out: Path, scenario: Scenario, summaries: list[Summary], traces: list[Trace], pop: Population,
           plots: bool) -> None:  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    report = {"scenario": asdict(scenario), "summaries": [asdict(s) for s in summaries],
              "validators": {t.policy: validator_kinds(t, pop) for t in traces}}  # fmt: skip
    (out / "summary.json").write_text(json.dumps(report, indent=2))
    if plots:
        from llmnet.sim.plots import comparison_figure, main_figure  # matplotlib: 0.4 s a --no-plots run skips

        main_figure(traces, pop, out / "simulation.png")
        comparison_figure(summaries, out / "baselines.png")
        _out.print(f"plots: {out / 'simulation.png'}, {out / 'baselines.png'}; numbers: {out / 'summary.json'}")
