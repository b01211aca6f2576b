"""A training run's loss, step by step: ``loss.jsonl`` written as it trains, and ``loss.png`` drawn from it.

    log = LossLog(run_dir / "loss.jsonl")
    log.append(LossPoint(stage="sft", step=3, loss=1.9, learning_rate=1e-3, run=1))
    plot_loss(log.points(), run_dir / "loss.png")

Each process that trains the folder is one ``run`` (1, 2 … in order). A resumed run first drops the
points past the checkpoint it resumes from (logged after the last save, then lost with the process),
so every step is in the file once, from the run that produced the weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

STAGE_COLOURS = {"sft": "tab:blue", "dpo": "tab:orange"}


class LossPoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str
    step: int  # the stage's own optimizer step, from 1
    loss: float
    learning_rate: float
    run: int  # which process trained this step (1 for the first, 2 after a resume …)


class LossLog:
    """``loss.jsonl``: one :class:`LossPoint` a line, appended as training logs."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def points(self) -> list[LossPoint]:
        if not self.path.is_file():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [LossPoint.model_validate_json(line) for line in lines if line.strip()]

    def next_run(self) -> int:
        return max((p.run for p in self.points()), default=0) + 1

    def append(self, point: LossPoint) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(point.model_dump_json() + "\n")

    def keep_until(self, stage: str, step: int) -> None:
        """Drop ``stage``'s points after ``step``, before training resumes from its checkpoint there."""
        kept = [p for p in self.points() if not (p.stage == stage and p.step > step)]
        self.path.write_text("".join(p.model_dump_json() + "\n" for p in kept), encoding="utf-8")


def plot_loss(points: Sequence[LossPoint], path: Path, title: str = "training loss") -> Path:
    """Loss against the step counted across stages (SFT, then DPO), one colour per stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    offset = 0
    for stage, colour in STAGE_COLOURS.items():
        mine = sorted((p for p in points if p.stage == stage), key=lambda p: p.step)
        if mine:
            ax.plot([offset + p.step for p in mine], [p.loss for p in mine], color=colour, label=stage)
            offset += mine[-1].step
    ax.set(xlabel="step", ylabel="loss", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
