"""One training stage with TRL: supervised pairs (``SFTTrainer``) or preference pairs (``DPOTrainer``).

Both are Hugging Face trainers, so a stage shows a progress bar, saves a checkpoint every
``save_steps`` and at its end under ``checkpoints/<stage>/``, and resumes from the last one when
trained again. The loss is on the answer tokens only (SFT's prompt-completion rows). DPO's reference
model is the base with the adapter (the LoRA or the prefix) switched off; after an SFT stage it is
TRL's frozen copy of the SFT adapter (named ``ref``), so DPO moves away from the supervised expert.
"""

from __future__ import annotations

import contextlib
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llmnet.tuning.losslog import LossLog, LossPoint
from llmnet.tuning.spec import Hyperparameters, TrainSpec

Stage = Literal["sft", "dpo"]
# warnings the libraries raise on every run about their own deprecations and our GGUF-loaded base
_LIBRARY_NOISE = (
    (FutureWarning, r"`(is_)?gradient_checkpointing` is deprecated"),
    (UserWarning, r"Could not find a config file in .* - will assume that the vocabulary was not modified"),
    (FutureWarning, r"`past_key_values` is deprecated and will be removed"),  # how peft passes a prefix
    # DPO after SFT copies the trained adapter as its reference, named "ref", which "prefix_tuning_" contains
    (UserWarning, r"Adapter name 'ref' should not be contained in the prefix 'prefix_tuning_'"),
)


@contextlib.contextmanager
def library_noise_silenced() -> Iterator[None]:
    """Silence exactly the known warnings of transformers/peft/TRL, nothing else."""
    with warnings.catch_warnings():
        for category, message in _LIBRARY_NOISE:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


@dataclass(frozen=True)
class StageResult:
    model: Any  # the peft model, trained
    steps: int  # the stage's optimizer steps in all
    new_steps: int  # of which this run trained (the others came from the checkpoint it resumed)
    seconds: float  # this run's training time, loading excluded

    def describe(self, stage: Stage) -> str:
        rate = f" ({self.new_steps / self.seconds:.2f} steps/s)" if self.new_steps and self.seconds > 0 else ""
        return f"{stage}: {self.new_steps} steps trained in {self.seconds:.1f} s{rate}, {self.steps} in all"


def peft_config(spec: TrainSpec) -> Any:
    from peft import LoraConfig, PrefixTuningConfig, TaskType

    h = spec.hyper
    if spec.method == "lora":
        return LoraConfig(r=h.lora_r, lora_alpha=h.lora_alpha, target_modules=list(h.lora_targets), lora_dropout=0.0,
                          task_type=TaskType.CAUSAL_LM)  # fmt: skip
    return PrefixTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=h.virtual_tokens)


def trainer_args(stage: Stage, h: Hyperparameters, spec: TrainSpec, folder: Path, progress: bool) -> Any:
    from trl.trainer.dpo_config import DPOConfig
    from trl.trainer.sft_config import SFTConfig

    common: dict[str, Any] = {
        "output_dir": str(folder), "max_steps": h.max_steps, "num_train_epochs": h.epochs or 1.0,
        "per_device_train_batch_size": h.batch_size, "learning_rate": h.learning_rate_for(spec.method),
        "max_length": h.max_length, "seed": h.seed, "logging_steps": 1, "save_steps": h.save_steps,
        "save_total_limit": 2, "report_to": [], "use_cpu": True, "dataloader_num_workers": 0,
        "gradient_checkpointing": False, "disable_tqdm": not progress, "lr_scheduler_type": "linear",
    }  # fmt: skip
    if stage == "dpo":
        return DPOConfig(beta=h.dpo_beta, **common)
    return SFTConfig(completion_only_loss=True, **common)


def last_checkpoint(folder: Path) -> Path | None:
    """The newest ``checkpoint-N`` folder of a stage, or None."""
    found = [p for p in folder.glob("checkpoint-*") if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name)]
    return max(found, key=lambda p: int(p.name.split("-")[1]), default=None)


def checkpoint_step(checkpoint: Path | None) -> int:
    return int(checkpoint.name.split("-")[1]) if checkpoint is not None else 0


def finished(checkpoint: Path, h: Hyperparameters) -> bool:
    """Whether ``checkpoint`` is the end of its stage (the steps asked, or the epochs' steps it counted)."""
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    wanted = h.max_steps if h.max_steps > 0 else int(state["max_steps"])
    return int(state["global_step"]) >= wanted


def load_adapter(model: Any, checkpoint: Path) -> None:
    """The trained adapter of ``checkpoint`` into ``model`` (a peft model with the same adapter)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter_model.safetensors")))


def _schedule_callback() -> Any:
    from transformers import TrainerCallback

    class ResumeSchedule(TrainerCallback):
        """A run resumed with more steps than its checkpoint planned goes on at the new schedule's learning
        rate, not at the one the checkpoint's optimizer holds (0 at the end of the old schedule)."""

        def on_train_begin(self, args: Any, state: Any, control: Any, optimizer: Any = None, lr_scheduler: Any = None,
                           **kwargs: Any) -> None:  # fmt: skip
            lambdas = getattr(lr_scheduler, "lr_lambdas", None)
            if not (state.global_step and optimizer is not None and lambdas):
                return
            rates = [base * f(lr_scheduler.last_epoch) for base, f in zip(lr_scheduler.base_lrs, lambdas, strict=True)]
            for group, rate in zip(optimizer.param_groups, rates, strict=True):
                group["lr"] = rate
            lr_scheduler._last_lr = rates

    return ResumeSchedule()


def _loss_callback(log: LossLog, stage: Stage, run: int) -> Any:
    from transformers import TrainerCallback

    class WriteLoss(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
                   **kwargs: Any) -> None:  # fmt: skip
            if logs and "loss" in logs:
                log.append(LossPoint(stage=stage, step=state.global_step, loss=float(logs["loss"]),
                                     learning_rate=float(logs.get("learning_rate", 0.0)), run=run))  # fmt: skip

    return WriteLoss()


def run_stage(stage: Stage, model: Any, tokenizer: Any, rows: list[dict[str, str]], spec: TrainSpec, folder: Path,
              log: LossLog, *, run: int, progress: bool) -> StageResult:  # fmt: skip
    """Train ``model`` on ``rows``, resuming from ``folder``'s last checkpoint.

    ``run`` numbers this process's points in the loss log."""
    from datasets import Dataset
    from peft import PeftModel
    from transformers import PrinterCallback
    from trl.trainer.dpo_trainer import DPOTrainer
    from trl.trainer.sft_trainer import SFTTrainer

    resume = last_checkpoint(folder)
    log.keep_until(stage, checkpoint_step(resume))
    if spec.method == "prefix" and not isinstance(model, PeftModel):
        from llmnet.tuning.prefix_init import prefix_model

        with library_noise_silenced():
            model = prefix_model(model, tokenizer, peft_config(spec))  # starts as real text, not noise
    trainer_class = DPOTrainer if stage == "dpo" else SFTTrainer
    with library_noise_silenced():
        trainer = trainer_class(
            model=model, args=trainer_args(stage, spec.hyper, spec, folder, progress),
            train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
            peft_config=None if isinstance(model, PeftModel) else peft_config(spec),
            callbacks=[_loss_callback(log, stage, run), _schedule_callback()],
        )  # fmt: skip
        if not progress:
            trainer.remove_callback(PrinterCallback)  # it prints every logged loss when the bar is off
        if resume is not None and finished(resume, spec.hyper):
            load_adapter(trainer.model, resume)  # the trainer would take one more step past the end
            return StageResult(trainer.model, checkpoint_step(resume), 0, 0.0)
        out = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    steps = int(trainer.state.global_step)
    return StageResult(trainer.model, steps, steps - checkpoint_step(resume), float(out.metrics["train_runtime"]))
