"""Adapters for tests. For SmolLM2, made once per test session (about 20 s each, on one thread): a random LoRA
written as a GGUF adapter, a prefix-tuning (P-tuning v2) adapter folder, a training run's folder around the
LoRA. Tiny GGUF files that can be read but not run, for checks that load no model."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from llmnet.tuning.prefix_init import prefix_model

LORA_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _base() -> tuple[Any, Any, Any]:
    import torch

    from llmnet.tuning.base import load_base, resolve_base

    torch.set_num_threads(1)
    torch.manual_seed(0)
    base = resolve_base("smollm2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' notes on de-quantizing GGUF tensors
        model, tokenizer = load_base(base)
    return base, model, tokenizer


def _random_lora(scale: float, seed: int) -> tuple[Any, Any]:
    """(base, SmolLM2 with a LoRA whose B matrices are random, not zero, so it changes the output)."""
    import torch
    from peft import LoraConfig, get_peft_model

    base, model, _ = _base()
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' deprecation notes inside peft
        peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=LORA_MODULES))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, scale)
    return base, peft_model


def make_lora_adapter(path: Path, *, scale: float = 0.01, seed: int = 0) -> Path:
    """A GGUF LoRA adapter for SmolLM2 whose B matrices are random (not zero), so it changes the output."""
    from llmnet.tuning.gguf_adapter import write_lora_adapter

    base, peft_model = _random_lora(scale, seed)
    write_lora_adapter(peft_model, path, base)
    return path


PREFIX_TEXT = "You are a helpful assistant."


def make_prefix_adapter(folder: Path) -> Path:
    """A prefix-tuning adapter folder (peft ``save_pretrained``) for SmolLM2 whose prefix is the base model's own
    keys and values for a short text: the usual "init from real tokens", so the model still writes sense."""
    from peft import PrefixTuningConfig, TaskType

    _, model, tokenizer = _base()
    tokens = len(tokenizer(PREFIX_TEXT, add_special_tokens=False)["input_ids"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' deprecation notes inside peft
        config = PrefixTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=tokens)
        peft_model = prefix_model(model, tokenizer, config, PREFIX_TEXT)
        peft_model.save_pretrained(str(folder))
    return folder


def make_lora_run(folder: Path, adapter: Path) -> Path:
    """A training run's folder as ``llmnet expert train`` leaves it (the adapter and its ``expert.json``),
    around an adapter made by :func:`make_lora_adapter`."""
    import shutil
    import time

    from llmnet.backends.weights import weights_sha256
    from llmnet.tuning.base import resolve_base
    from llmnet.tuning.manifest import Artifact, BaseRef, DatasetRef, ExpertManifest, TrainingStats

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(adapter, folder / "adapter.gguf")
    base = resolve_base("smollm2")
    ExpertManifest(
        name="general-v2", domains=["general"], base=BaseRef(name=base.name, sha256=base.sha256,
        licence=base.licence, mode=base.mode), method="lora", objective="sft", hyperparameters={"rank": 4},
        dataset=DatasetRef(sha256="0" * 64, examples=1), licence=base.licence, created_at=int(time.time()),
        artifact=Artifact(kind="gguf-lora", file="adapter.gguf", sha256=weights_sha256(folder / "adapter.gguf")),
        training=TrainingStats(steps=0, seconds=0.0, peak_rss_mb=0.0, final_loss=0.0),
    ).save(folder)  # fmt: skip
    return folder


def tiny_gguf(path: Path, strings: dict[str, str]) -> Path:
    """A GGUF file with these metadata strings and one small tensor: enough to be read, not to be run."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    for key, value in strings.items():
        writer.add_string(key, value)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((2, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tiny_adapter(path: Path, base_sha256: str) -> Path:
    """Laid out as llama.cpp's LoRA adapters are, naming the base it was trained on."""
    from llmnet.tuning.gguf_adapter import BASE_SHA_KEY

    return tiny_gguf(path, {"general.type": "adapter", "adapter.type": "lora", BASE_SHA_KEY: base_sha256})


def renamed_model(path: Path) -> Path:
    """A copy of SmolLM2's GGUF with another ``general.name``: a model no validator has packaged (other
    sha256), which runs exactly as SmolLM2 does."""
    import subprocess
    import sys

    from llmnet.backends.weights import smollm2_path

    command = [sys.executable, "-m", "gguf.scripts.gguf_new_metadata", "--general-name", "SmolLM2 renamed",
               "--force", str(smollm2_path()), str(path)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return path


def make_peft_lora(folder: Path, *, scale: float = 0.05, seed: int = 0) -> Path:
    """A LoRA for SmolLM2 as peft saves it (``adapter_model.safetensors``), with random B matrices."""
    _, peft_model = _random_lora(scale, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' deprecation notes inside peft
        peft_model.save_pretrained(str(folder))
    return folder
