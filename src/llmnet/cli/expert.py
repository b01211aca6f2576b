"""``llmnet expert``: experts the network makes, trained from its own data and registered on chain."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from llmnet.cli.options import DataDir, Port, RpcUrl, ether
from llmnet.cli.wallet.account import ChainId, DeploymentAddress, Dev, Keystore, PasswordFile, open_chain
from llmnet.tuning.spec import DEFAULT_LEARNING_RATE, DEFAULT_STEPS, Hyperparameters, TrainSpec

if TYPE_CHECKING:
    from llmnet.chain.ledger import Ledger
    from llmnet.chain.provenance import VersionProvenance

app = typer.Typer(help="Train expert versions from the network's data, register them on chain, and show them.",
                  no_args_is_help=True)  # fmt: skip
console = Console(soft_wrap=True, highlight=False)


# ------------------------------------------------------------------ train

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
    licence: Annotated[
        str | None, typer.Option(help="the expert's licence, checked against what base and data make it")
    ] = None,
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


# ------------------------------------------------------------------ register, show, versions

OwnerKeystore = Annotated[
    Path | None, typer.Option("--owner-keystore", help="keystore of the owner: the provider serving v1")
]
OwnerPasswordFile = Annotated[Path | None, typer.Option("--owner-password-file", help="the owner keystore's password")]
OwnerDev = Annotated[int | None, typer.Option("--owner-dev", help="the owner is development account N (dev chains)")]
Domains = Annotated[list[str] | None, typer.Option("--domain", help="a domain (repeatable); default the manifest's")]
Address = Annotated[str, typer.Argument(help="a provider's address (0x…)")]


@app.command()
def register(
    run_dir: Annotated[Path, typer.Argument(help="the folder `llmnet expert train` wrote (with expert.json)")],
    endpoint: Annotated[str, typer.Option(help="URL the version's respondent serves on")],
    model_version: Annotated[str | None, typer.Option(help="its version; default v2 for the first, then v3…")] = None,
    model_id: Annotated[str | None, typer.Option(help="model identifier; default the manifest's name")] = None,
    domain: Domains = None,
    stake: Annotated[str, typer.Option(help="the version's stake: 0.1 (ETH), 0.1eth, 30000gwei")] = "0.1",
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev: Dev = None,
    owner_keystore: OwnerKeystore = None,
    owner_password_file: OwnerPasswordFile = None,
    owner_dev: OwnerDev = None,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Register a trained expert as a new version of its owner's model: the version's key (--keystore or
    --dev) becomes a provider with the artifact's sha256 as its weights hash, and the owner (--owner-keystore
    or --owner-dev) records its provenance. Licences and the artifact's hash are checked first.

    Example: llmnet expert register runs/law-v2 --endpoint http://127.0.0.1:8411 --dev 5 --owner-dev 1
    """
    from llmnet.cli.wallet.account import parse_amount, wallet_account
    from llmnet.tuning.registration import checked_run, next_model_version, plan_version, register_version

    manifest = checked_run(run_dir)
    ledger = open_chain(rpc_url, data_dir, port, chain_id, deployment)
    version = wallet_account(ledger.chain_id, keystore, password_file, dev)
    owner = wallet_account(ledger.chain_id, owner_keystore, owner_password_file, owner_dev)
    plan = plan_version(manifest, owner=owner.address, version=version.address, endpoint=endpoint,
                        model_version=model_version or next_model_version(ledger, owner.address),
                        chain_id=ledger.chain_id, model_id=model_id, domains=tuple(domain or ()))  # fmt: skip
    done = register_version(ledger, plan, owner=owner, version=version, stake=parse_amount(stake))
    p = plan.provenance
    if done.registration is None:
        console.print(f"{p.version} is registered already with this artifact")
    else:
        console.print(f"registered {p.version} as a provider of {', '.join(plan.profile.domains)} with stake "
                      f"{stake} (tx {done.registration.tx_hash})")  # fmt: skip
    console.print(f"{p.version} named {p.owner} its owner (tx {done.named.tx_hash})")
    console.print(f"recorded {p.model_version} of {p.owner}: manifest {p.manifest_hash}, base {p.base_hash}, "
                  f"{p.method}, dataset {p.dataset_hash}{_rankings(p)} (tx {done.recorded.tx_hash})")  # fmt: skip


@app.command()
def show(
    address: Address,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """Show a version's provenance and its lineage up to the original provider, and the versions made from it.

    Example: llmnet expert show 0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc
    """
    from llmnet.cli.providers import reputation_lines
    from llmnet.tuning.registration import lineage

    ledger = open_chain(rpc_url, data_dir, port, chain_id, deployment)
    info = ledger.get_provider(address)
    console.print(f"{info.address}: {info.profile.model_id} {info.profile.model_version} "
                  f"(weights {info.profile.weights_hash}, licence {info.profile.licence or 'unknown'}), "
                  f"stake {ether(info.stake)}; reputation {', '.join(reputation_lines(ledger, info))}")  # fmt: skip
    line = lineage(ledger, info.address)
    if not line:
        console.print("an original model: no owner recorded it as a version")
    for p in line:
        console.print(f"  {p.model_version} of {p.owner}: {p.method}, manifest {p.manifest_hash} ({p.manifest_url}), "
                      f"base {p.base_hash}, dataset {p.dataset_hash}{_rankings(p)}")  # fmt: skip
    _print_versions(ledger, info.address)


@app.command()
def versions(
    owner: Address,
    chain_id: ChainId = None,
    deployment: DeploymentAddress = None,
    rpc_url: RpcUrl = None,
    data_dir: DataDir = None,
    port: Port = None,
) -> None:
    """List the versions an owner recorded, with their reputation beside the owner's.

    Example: llmnet expert versions 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    """
    from llmnet.cli.providers import reputation_lines

    ledger = open_chain(rpc_url, data_dir, port, chain_id, deployment)
    info = ledger.get_provider(owner)
    console.print(f"{info.address} (v1): {info.profile.model_id}; reputation "
                  f"{', '.join(reputation_lines(ledger, info))}")  # fmt: skip
    _print_versions(ledger, info.address)


def _print_versions(ledger: Ledger, owner: str) -> None:
    from llmnet.cli.providers import reputation_lines

    found = ledger.versions_of(owner)
    if not found:
        console.print(f"{owner} recorded no versions")
    for v in found:
        p, info = ledger.provenance(v), ledger.get_provider(v)
        console.print(f"  {p.model_version}: {v} ({p.method}, manifest {p.manifest_hash}); reputation "
                      f"{', '.join(reputation_lines(ledger, info))}")  # fmt: skip


def _rankings(p: VersionProvenance) -> str:
    return f", rankings {p.rankings} blocks {p.from_block}-{p.to_block}" if p.has_rankings else ""
