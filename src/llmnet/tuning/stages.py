"""One training stage with TRL: supervised pairs (``SFTTrainer``) or preference pairs (``DPOTrainer``).

Both are Hugging Face trainers, so a stage shows a progress bar, saves a checkpoint every
``save_steps`` and at its end under ``checkpoints/<stage>/``, and resumes from the last one when
trained again. The loss is on the answer tokens only (SFT's prompt-completion rows). DPO's reference
model is the base with the adapter (the LoRA or the prefix) switched off.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from llmnet.tuning.losslog import LossLog, LossPoint
from llmnet.tuning.spec import Hyperparameters, TrainSpec

Stage = Literal["sft", "dpo"]
# warnings the libraries raise on every run about their own deprecations and our GGUF-loaded base
_LIBRARY_NOISE = (
    (FutureWarning, r"`(is_)?gradient_checkpointing` is deprecated"),
    (UserWarning, r"Could not find a config file in .* - will assume that the vocabulary was not modified"),
    (UserWarning, r"Position ids are not supported for parameter efficient tuning"),
)


@contextlib.contextmanager
def library_noise_silenced() -> Iterator[None]:
    """Silence exactly the known warnings of transformers/peft/TRL, nothing else."""
    with warnings.catch_warnings():
        for category, message in _LIBRARY_NOISE:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


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
              log: LossLog, *, run: int, progress: bool) -> tuple[Any, int]:  # fmt: skip
    """Train ``model`` on ``rows`` (resuming from ``folder``'s last checkpoint); (peft model, steps done).

    ``run`` numbers this process's points in the loss log."""
    from datasets import Dataset
    from peft import PeftModel
    from trl.trainer.dpo_trainer import DPOTrainer
    from trl.trainer.sft_trainer import SFTTrainer

    resume = last_checkpoint(folder)
    log.keep_until(stage, checkpoint_step(resume))
    trainer_class = DPOTrainer if stage == "dpo" else SFTTrainer
    with library_noise_silenced():
        trainer = trainer_class(
            model=model, args=trainer_args(stage, spec.hyper, spec, folder, progress),
            train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
            peft_config=None if isinstance(model, PeftModel) else peft_config(spec),
            callbacks=[_loss_callback(log, stage, run)],
        )  # fmt: skip
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    return trainer.model, int(trainer.state.global_step)
