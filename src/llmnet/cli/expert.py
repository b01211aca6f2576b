"""``llmnet expert``: experts the network makes from its own data (train a version; more commands join here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from llmnet.tuning.spec import DEFAULT_LEARNING_RATE, DEFAULT_STEPS, Hyperparameters, TrainSpec

app = typer.Typer(help="Train expert versions from a knowledge folder and the network's rankings.",
                  no_args_is_help=True)  # fmt: skip
console = Console()
_H = Hyperparameters()  # the defaults, shown in --help


@app.command(name="train")
def train(
    name: Annotated[str, typer.Option(help="the expert version's name, e.g. varn-v2")],
    domain: Annotated[list[str], typer.Option("--domain", help="a domain the expert answers (repeatable)")],
    out: Annotated[Path, typer.Option(help="run folder; trained again, it resumes from its last checkpoint")],
    base: Annotated[str, typer.Option(help="smollm2, gemma3-270m, or a .gguf file")] = "smollm2",
    base_licence: Annotated[str | None, typer.Option(help="licence of a .gguf base (an SPDX id)")] = None,
    method: Annotated[str, typer.Option(help="lora (served by llama.cpp) or prefix (prompt tuning)")] = "lora",
    knowledge: Annotated[Path | None, typer.Option(help="folder of documents: questions with grounded answers")] = None,
    preferences: Annotated[
        Path | None, typer.Option(help="llmnet dataset export --format dpo-jsonl file: trained with DPO")
    ] = None,
    data_licence: Annotated[str | None, typer.Option(help="the knowledge folder's licence (else its LICENCE)")] = None,
    licence: Annotated[str | None, typer.Option(help="the expert's licence (default: from base and data)")] = None,
    steps: Annotated[int | None, typer.Option(help=f"optimizer steps per stage (default {DEFAULT_STEPS})")] = None,
    epochs: Annotated[float | None, typer.Option(help="epochs per stage, instead of --steps")] = None,
    lr: Annotated[
        float | None, typer.Option(help=f"learning rate (default per method: {DEFAULT_LEARNING_RATE})")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="examples per step")] = _H.batch_size,
    max_length: Annotated[int, typer.Option(help="tokens of prompt and answer")] = _H.max_length,
    lora_r: Annotated[int, typer.Option(help="LoRA rank")] = _H.lora_r,
    lora_alpha: Annotated[int, typer.Option(help="LoRA alpha")] = _H.lora_alpha,
    lora_target: Annotated[list[str] | None, typer.Option("--lora-target", help="module to adapt (repeatable)")] = None,
    virtual_tokens: Annotated[int, typer.Option(help="prefix tuning: vectors per layer")] = _H.virtual_tokens,
    dpo_beta: Annotated[float, typer.Option(help="DPO's beta")] = _H.dpo_beta,
    save_steps: Annotated[int, typer.Option(help="a checkpoint every so many steps")] = _H.save_steps,
    seed: Annotated[int, typer.Option(help="random seed")] = _H.seed,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch (default: torch's)")] = None,
) -> None:
    """Fine-tune (LoRA) or prompt-tune (prefix) an expert on CPU; writes expert.json and the adapter to --out.

    Example: llmnet expert train --name varn-v2 --domain varn --knowledge knowledge/varn --out runs/varn-v2
             llmnet expert train --name varn-v3 --domain varn --preferences prefs.jsonl --method prefix --out runs/v3
    """
    hyper = {"steps": steps, "epochs": epochs, "learning_rate": lr, "batch_size": batch_size,
             "max_length": max_length, "lora_r": lora_r, "lora_alpha": lora_alpha,
             "lora_targets": tuple(lora_target or _H.lora_targets), "virtual_tokens": virtual_tokens,
             "dpo_beta": dpo_beta, "save_steps": save_steps, "seed": seed}  # fmt: skip
    spec = TrainSpec.build(name=name, domains=tuple(domain), base=base, base_licence=base_licence, method=method,
                           knowledge=knowledge, knowledge_licence=data_licence, preferences=preferences,
                           licence=licence, hyper=hyper)  # fmt: skip
    if threads:
        import torch

        torch.set_num_threads(threads)
    _describe(spec, out)
    from llmnet.tuning.train import train_expert

    manifest = train_expert(spec, out)
    t = manifest.training
    console.print(f"[green]trained[/] {manifest.name}: {t.steps} steps, {t.seconds:.0f} s with loading, "
                  f"final loss {t.final_loss:.3f}, peak memory {t.peak_rss_mb:.0f} MB")  # fmt: skip
    console.print(f"  {manifest.artifact.kind}: {out / manifest.artifact.file} (sha256 {manifest.artifact.sha256})")
    console.print(f"  manifest: {out / 'expert.json'} (digest {manifest.digest()}); loss: {out / 'loss.png'}")


def _describe(spec: TrainSpec, out: Path) -> None:
    sources = [f"knowledge {spec.knowledge}" if spec.knowledge else "", f"preferences {spec.preferences}"
               if spec.preferences else ""]  # fmt: skip
    console.print(f"training [bold]{spec.name}[/] ({', '.join(spec.domains)}): {spec.method} on {spec.base}, "
                  f"{spec.objective} from {' and '.join(s for s in sources if s)} into {out}")  # fmt: skip
