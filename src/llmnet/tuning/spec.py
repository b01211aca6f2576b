"""What to train: a :class:`TrainSpec` (the data, the base, the method) and its :class:`Hyperparameters`.

    spec = TrainSpec(name="law-v2", domains=["law"], method="lora", knowledge=Path("knowledge/law"))
    spec.objective                      # "sft": a knowledge folder gives supervised pairs
    spec.hyper.learning_rate_for("lora")  # the default of the method when none was given

Every default and limit of training is defined here, once; the CLI's flags and the manifest's
``hyperparameters`` read them from these models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llmnet.errors import ConfigError
from llmnet.tuning.gguf_adapter import TENSOR_NAMES
from llmnet.tuning.manifest import HyperValue, Method, Objective

DEFAULT_STEPS = 60  # optimizer steps per stage when neither steps nor epochs is given
MAX_STEPS = 100_000
DEFAULT_LEARNING_RATE: dict[Method, float] = {"lora": 1e-3, "prefix": 3e-3}
DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
# the modules a LoRA may adapt: those the GGUF adapter writer can name for llama.cpp
LORA_MODULES = frozenset(name.split(".")[-1] for name in TENSOR_NAMES)
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class Hyperparameters(BaseModel):
    """How to train; ``steps`` and ``epochs`` count per stage (SFT, then DPO)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: int | None = Field(default=None, ge=1, le=MAX_STEPS)
    epochs: float | None = Field(default=None, gt=0, le=1000)
    learning_rate: float | None = Field(default=None, gt=0, le=1.0)  # None: DEFAULT_LEARNING_RATE of the method
    batch_size: int = Field(default=4, ge=1, le=256)
    max_length: int = Field(default=384, ge=32, le=8192)  # tokens of prompt + answer; grounded prompts are ~200-300
    lora_r: int = Field(default=8, ge=1, le=256)
    lora_alpha: int = Field(default=16, ge=1, le=1024)
    lora_targets: tuple[str, ...] = DEFAULT_LORA_TARGETS
    virtual_tokens: int = Field(default=20, ge=1, le=512)  # prefix tuning: trained key/value vectors per layer
    dpo_beta: float = Field(default=0.1, gt=0, le=10)
    save_steps: int = Field(default=10, ge=1, le=MAX_STEPS)  # a checkpoint every so many steps (a run resumes from it)
    seed: int = Field(default=0, ge=0)

    @field_validator("lora_targets")
    @classmethod
    def _known_targets(cls, targets: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(targets) - LORA_MODULES)
        if unknown or not targets:
            raise ValueError(f"LoRA targets {unknown or '(none)'} cannot be served by llama.cpp; "
                             f"choose among {', '.join(sorted(LORA_MODULES))}")  # fmt: skip
        return targets

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> Self:
        if self.steps is not None and self.epochs is not None:
            raise ValueError(f"give steps ({self.steps}) or epochs ({self.epochs}), not both")
        return self

    @property
    def max_steps(self) -> int:
        """Steps per stage for the trainer; -1 lets ``epochs`` decide."""
        if self.epochs is not None:
            return -1
        return self.steps if self.steps is not None else DEFAULT_STEPS

    def learning_rate_for(self, method: Method) -> float:
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LEARNING_RATE[method]

    def recorded(self, method: Method, *, dpo: bool = False) -> dict[str, HyperValue]:
        """What the manifest records: the values the run used, only those of its method (and DPO's beta)."""
        values: dict[str, HyperValue] = {"learning_rate": self.learning_rate_for(method), "batch_size": self.batch_size,
                                         "max_length": self.max_length, "seed": self.seed}  # fmt: skip
        values |= {"epochs": self.epochs} if self.epochs is not None else {"steps": self.max_steps}
        if method == "lora":
            values |= {"lora_r": self.lora_r, "lora_alpha": self.lora_alpha, "lora_targets": list(self.lora_targets)}
        else:
            values["virtual_tokens"] = self.virtual_tokens
        return values | ({"dpo_beta": self.dpo_beta} if dpo else {})


class TrainSpec(BaseModel):
    """One expert version to train. At least one of ``knowledge`` (a folder of documents, whose
    passages become questions with grounded answers) and ``preferences`` (``llmnet dataset export
    --format dpo-jsonl``) is needed; the objective follows from which are given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    domains: tuple[str, ...] = Field(min_length=1)
    base: str = "smollm2"  # a packaged model (smollm2, gemma3-270m) or a .gguf path
    base_licence: str | None = None  # required for a .gguf path; overrides a packaged model's
    method: Method = "lora"
    knowledge: Path | None = None
    knowledge_licence: str | None = None  # None: the first line of the folder's LICENCE or LICENSE file
    preferences: Path | None = None
    held_out: Path | None = None  # questions never to train on (a test set): JSON lines with "question", or text lines
    licence: str | None = None  # of the expert; None: derived from the base and the data
    hyper: Hyperparameters = Hyperparameters()

    @model_validator(mode="after")
    def _has_data(self) -> Self:
        if self.knowledge is None and self.preferences is None:
            raise ValueError("nothing to train on: give a knowledge folder, a preference export, or both")
        if self.knowledge is not None and not self.knowledge.is_dir():
            raise ValueError(f"knowledge folder {self.knowledge} does not exist or is not a folder")
        if self.preferences is not None and not self.preferences.is_file():
            raise ValueError(f"preference file {self.preferences} does not exist; "
                             "write one with llmnet dataset export --format dpo-jsonl")  # fmt: skip
        return self

    def held_out_questions(self) -> list[str]:
        """The questions of the ``held_out`` file: each line's ``"question"`` if it is JSON, else the line."""
        if self.held_out is None:
            return []
        lines = [line.strip() for line in self.held_out.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [str(json.loads(line)["question"]) if line.startswith("{") else line for line in lines]

    @property
    def objective(self) -> Objective:
        if self.knowledge is not None and self.preferences is not None:
            return "sft+dpo"
        return "sft" if self.knowledge is not None else "dpo"

    @property
    def stages(self) -> tuple[Literal["sft", "dpo"], ...]:
        """The trainings in order: supervised pairs first, then preferences."""
        stages: list[Literal["sft", "dpo"]] = ["sft"] if self.knowledge is not None else []
        return (*stages, "dpo") if self.preferences is not None else tuple(stages)

    @classmethod
    def build(cls, **values: Any) -> TrainSpec:
        """Validate ``values`` into a spec, as a :class:`ConfigError` naming the bad field and what to do."""
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "spec"
            raise ConfigError(f"training spec: {where}: {first['msg'].removeprefix('Value error, ')}") from None
