"""PNG plots of a run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from llmnet.sim.metrics import Summary, cumulative_regret, windowed
from llmnet.sim.runner import Trace
from llmnet.sim.scenario import LLMNET_POLICY, Population


def _style(name: str) -> dict[str, object]:
    return {"linewidth": 2.6, "color": "black"} if name == LLMNET_POLICY else {"linewidth": 1.2}


def _label(name: str) -> str:
    return f"{name} (llmnet)" if name == LLMNET_POLICY else name


def _over_time(ax: Axes, traces: Sequence[Trace], field: str, title: str) -> None:
    for t in traces:
        x, y = windowed(getattr(t, field))
        ax.plot(x, y, label=_label(t.policy), **_style(t.policy))  # type: ignore[arg-type]
    ax.set_title(title)
    ax.set_xlabel("requests")


def _regret(ax: Axes, traces: Sequence[Trace]) -> None:
    for t in traces:
        ax.plot(cumulative_regret(t), label=_label(t.policy), **_style(t.policy))  # type: ignore[arg-type]
    ax.set_title("cumulative regret against an oracle (lower is better)")
    ax.set_xlabel("requests")


def _reputation(ax: Axes, trace: Trace, pop: Population) -> None:
    ends = np.array(trace.batch_end)
    rep = np.array(trace.reputation)
    for p in range(pop.n_providers):
        if not pop.member[p, 0]:
            continue
        kind = pop.kind[p]
        color = {"expert": "tab:green", "lazy": "tab:red", "sybil": "tab:purple"}.get(kind, "tab:gray")
        ax.plot(ends, rep[:, p], color=color, linewidth=1.4 if kind == "expert" else 0.7)
    ax.set_title(f"reputation in {pop.domain_names[0]} under {_label(trace.policy)} (green: experts)")
    ax.set_xlabel("requests")
    ax.set_ylabel("posterior mean")


def main_figure(traces: Sequence[Trace], pop: Population, path: Path) -> Path:
    """Four panels: expert share, cumulative regret, delivered quality, reputation trajectories."""
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    _over_time(axes[0, 0], traces, "expert_share", "share of traffic to true experts")
    _regret(axes[0, 1], traces)
    _over_time(axes[1, 0], traces, "delivered", "delivered answer quality")
    main = next((t for t in traces if t.policy == LLMNET_POLICY), traces[0])
    _reputation(axes[1, 1], main, pop)
    axes[0, 0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def comparison_figure(summaries: Sequence[Summary], path: Path) -> Path:
    """Bars per policy: expert share after warm-up and cumulative regret."""
    names = [_label(s.policy) for s in summaries]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    left.barh(names, [s.expert_share_after_warmup for s in summaries], color="tab:green")
    left.axvline(0.9, color="black", linestyle="--", linewidth=1)
    left.set_title("share of traffic to experts after warm-up (goal 0.9)")
    right.barh(names, [s.cumulative_regret for s in summaries], color="tab:red")
    right.set_title("cumulative regret (lower is better)")
    for ax in (left, right):
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
