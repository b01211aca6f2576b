"""Train an expert version from a knowledge folder and/or the network's preference export.

    spec = TrainSpec.build(name="varn-v2", domains=["varn"], knowledge=Path("knowledge/varn"))
    manifest = train_expert(spec, Path("runs/varn-v2"))   # again with the same folder: resumes
    manifest.artifact.file                                # "adapter.gguf" (LoRA) or "prefix/…" (prefix tuning)

A run folder holds ``expert.json`` (the :class:`ExpertManifest`), the artifact (``adapter.gguf``, a
GGUF LoRA adapter llama.cpp applies; or ``prefix/``, the peft prefix-tuning folder), ``loss.jsonl``,
``loss.png``, ``checkpoints/`` and ``run.json`` (what the checkpoints were trained on). Every licence
is checked before a model is loaded.
"""

from __future__ import annotations

import json
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from llmnet.backends.weights import file_sha256
from llmnet.errors import ConfigError, InputError
from llmnet.tuning.base import BaseModel, load_base, resolve_base
from llmnet.tuning.examples import (
    PreferenceRow,
    Prompter,
    Row,
    dataset_sha256,
    knowledge_licence,
    preference_licences,
    rankings_source,
    read_preferences,
)
from llmnet.tuning.licences import LicenceError, check_all_trainable, derived_licence
from llmnet.tuning.losslog import LossLog, plot_loss
from llmnet.tuning.manifest import Artifact, BaseRef, DatasetRef, ExpertManifest, KnowledgeSource, TrainingStats
from llmnet.tuning.spec import TrainSpec
from llmnet.tuning.stages import library_noise_silenced, run_stage

ADAPTER_FILE = "adapter.gguf"
PREFIX_DIR = "prefix"
PREFIX_WEIGHTS = "adapter_model.safetensors"  # what peft's save_pretrained writes in PREFIX_DIR
LOSS_FILE, PLOT_FILE, RUN_FILE, CHECKPOINTS = "loss.jsonl", "loss.png", "run.json", "checkpoints"
_console = Console(stderr=True)
TRAINABLE_ARCHITECTURES = ("llama", "gemma3")  # GGUF models transformers loads and the adapter writer names


@dataclass(frozen=True)
class Prepared:
    """A spec's inputs, read and licence-checked, before any model is loaded."""

    base: BaseModel
    knowledge_licence: str | None
    preferences: list[PreferenceRow] = field(default_factory=list)

    @property
    def data_licences(self) -> list[str]:
        """The knowledge folder's, then the ranked models' (sorted, as the manifest lists them)."""
        rows = sorted({lic for row in self.preferences for lic in (row.chosen_licence, row.rejected_licence)})
        return [self.knowledge_licence, *rows] if self.knowledge_licence else rows

    def expert_licence(self, stated: str | None) -> str:
        """The licence the inputs give the expert; a stated one must be it (registration checks the same)."""
        derived = derived_licence(self.base.licence, self.data_licences)
        if stated and stated.strip().lower() != derived.strip().lower():
            raise LicenceError(f"the expert cannot be under {stated!r}: its base model and data make it {derived!r}; "
                               "leave --licence out, or state that one")  # fmt: skip
        return derived


def prepare(spec: TrainSpec) -> Prepared:
    """Resolve the base and read the data; raise :class:`LicenceError` if any licence forbids training."""
    from llmnet.tuning.base import gguf_architecture

    base = resolve_base(spec.base, licence=spec.base_licence)
    checks = [(base.licence, f"base model {base.name}")]
    licence = knowledge_licence(spec.knowledge, spec.knowledge_licence) if spec.knowledge else None
    if spec.knowledge and licence:
        checks.append((licence, f"knowledge folder {spec.knowledge}"))
    rows = read_preferences(spec.preferences) if spec.preferences else []
    checks += preference_licences(rows, spec.preferences) if spec.preferences else []
    check_all_trainable(checks)
    prepared = Prepared(base, licence, rows)
    prepared.expert_licence(spec.licence)
    if (arch := gguf_architecture(base.path)) not in TRAINABLE_ARCHITECTURES:
        raise ConfigError(f"base model {base.name} is a {arch!r} model; llmnet trains "
                          f"{', '.join(TRAINABLE_ARCHITECTURES)} GGUF models (smollm2, gemma3-270m)")  # fmt: skip
    return prepared


def trainable_base(base: BaseModel) -> tuple[Any, Any]:
    """The base de-quantized to float32; transformers still marks a GGUF-loaded model as quantized
    (which its trainer refuses), though no quantized weight is left in it."""
    model, tokenizer = load_base(base)
    model.hf_quantizer = None
    model.is_quantized = False
    model.config.__dict__.pop("quantization_config", None)
    return model, tokenizer


def training_rows(spec: TrainSpec, prepared: Prepared, prompter: Prompter) -> dict[str, list[Row]]:
    """Each stage's rows rendered as the served model is prompted."""
    from llmnet.tuning.pairs import sft_examples

    rows: dict[str, list[Row]] = {}
    if spec.knowledge is not None:
        examples = sft_examples(spec.knowledge, seed=spec.hyper.seed, held_out=spec.held_out_questions())
        rows["sft"] = [prompter.sft(e) for e in examples]
        if not rows["sft"]:
            raise InputError(f"knowledge folder {spec.knowledge} gave no question to train on; add documents")
    if prepared.preferences:
        rows["dpo"] = [prompter.dpo(row) for row in prepared.preferences]
    return rows


def check_run_folder(out_dir: Path, spec: TrainSpec, digest: str) -> None:
    """Refuse to resume checkpoints trained on other data, base or method; record them for a first run."""
    wanted = {"base": spec.base, "method": spec.method, "dataset_sha256": digest}
    path = out_dir / RUN_FILE
    if path.is_file() and (found := json.loads(path.read_text())) != wanted:
        changed = ", ".join(k for k in wanted if found.get(k) != wanted[k])
        raise ConfigError(f"{out_dir} holds a run with another {changed}; resume it with the same inputs, "
                          "or train into a new --out folder")  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(wanted, indent=1) + "\n")


def write_artifact(model: Any, spec: TrainSpec, base: BaseModel, out_dir: Path) -> Artifact:
    """The adapter as served: a GGUF LoRA for llama.cpp, or the peft prefix folder."""
    if spec.method == "lora":
        from llmnet.tuning.gguf_adapter import write_lora_adapter

        return Artifact(kind="gguf-lora", file=ADAPTER_FILE, sha256=write_lora_adapter(model, out_dir / ADAPTER_FILE,
                                                                                       base))  # fmt: skip
    with library_noise_silenced():
        model.save_pretrained(str(out_dir / PREFIX_DIR), selected_adapters=["default"])  # not DPO's reference
    weights = out_dir / PREFIX_DIR / PREFIX_WEIGHTS
    return Artifact(kind="peft-prefix", file=f"{PREFIX_DIR}/{PREFIX_WEIGHTS}", sha256=file_sha256(weights))


def dataset_ref(spec: TrainSpec, prepared: Prepared, rows: dict[str, list[Row]]) -> DatasetRef:
    from llmnet.experts.corpus import corpus_hash_of

    knowledge = None
    if spec.knowledge is not None and prepared.knowledge_licence:
        knowledge = KnowledgeSource(folder=spec.knowledge.resolve().name, licence=prepared.knowledge_licence,
                                    corpus_sha256=corpus_hash_of(spec.knowledge).removeprefix("0x"),
                                    examples=len(rows["sft"]))  # fmt: skip
    rankings = rankings_source(prepared.preferences) if prepared.preferences else None
    return DatasetRef(sha256=dataset_sha256(rows), examples=sum(map(len, rows.values())), knowledge=knowledge,
                      rankings=rankings)  # fmt: skip


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def train_expert(spec: TrainSpec, out_dir: Path, *, progress: bool = True) -> ExpertManifest:
    """Train ``spec`` into ``out_dir`` (resuming its checkpoints) and write the manifest; returns it."""
    started = time.monotonic()
    prepared = prepare(spec)
    model, tokenizer = trainable_base(prepared.base)
    rows = training_rows(spec, prepared, Prompter(prepared.base.mode, tokenizer))
    check_run_folder(out_dir, spec, dataset_sha256(rows))
    if not progress:
        import datasets

        datasets.disable_progress_bars()
    log = LossLog(out_dir / LOSS_FILE)
    model, steps = train_stages(spec, model, tokenizer, rows, out_dir, log, progress=progress)
    points = log.points()
    plot_loss(points, out_dir / PLOT_FILE, title=f"{spec.name}: {spec.method} {spec.objective}")
    stats = TrainingStats(steps=steps, seconds=round(time.monotonic() - started, 2), peak_rss_mb=peak_rss_mb(),
                          final_loss=points[-1].loss if points else 0.0)  # fmt: skip
    manifest = build_manifest(spec, prepared, dataset_ref(spec, prepared, rows),
                              write_artifact(model, spec, prepared.base, out_dir), stats)  # fmt: skip
    manifest.save(out_dir)
    return manifest


def train_stages(spec: TrainSpec, model: Any, tokenizer: Any, rows: dict[str, list[Row]], out_dir: Path, log: LossLog,
                 *, progress: bool) -> tuple[Any, int]:  # fmt: skip
    """Each stage in turn, on the model the stage before trained; (the peft model, steps in all)."""
    run, steps = log.next_run(), 0
    for stage in spec.stages:
        result = run_stage(stage, model, tokenizer, rows[stage], spec, out_dir / CHECKPOINTS / stage, log,
                           run=run, progress=progress)  # fmt: skip
        model, steps = result.model, steps + result.steps
        if progress:
            _console.print(result.describe(stage))
    return model, steps


def build_manifest(spec: TrainSpec, prepared: Prepared, dataset: DatasetRef, artifact: Artifact,
                   stats: TrainingStats) -> ExpertManifest:  # fmt: skip
    b = prepared.base
    return ExpertManifest(
        name=spec.name, domains=list(spec.domains), method=spec.method, objective=spec.objective,
        base=BaseRef(name=b.name, sha256=b.sha256, licence=b.licence, mode=b.mode),
        hyperparameters=spec.hyper.recorded(spec.method, dpo="dpo" in spec.stages), dataset=dataset,
        artifact=artifact, licence=prepared.expert_licence(spec.licence),
        training=stats, created_at=int(time.time()),
    )  # fmt: skip
