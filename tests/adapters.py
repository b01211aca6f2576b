"""Small adapters for SmolLM2, made once per test session: a random LoRA written as a GGUF adapter, and a
prefix-tuning (P-tuning v2) adapter folder, both from a fixed seed (about 20 s each, on one thread)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

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


def make_lora_adapter(path: Path, *, scale: float = 0.01, seed: int = 0) -> Path:
    """A GGUF LoRA adapter for SmolLM2 whose B matrices are random (not zero), so it changes the output."""
    import torch
    from peft import LoraConfig, get_peft_model

    from llmnet.tuning.gguf_adapter import write_lora_adapter

    base, model, _ = _base()
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' deprecation notes inside peft
        peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=LORA_MODULES))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, scale)
    write_lora_adapter(peft_model, path, base)
    return path


PREFIX_TEXT = "You are a helpful assistant."


def make_prefix_adapter(folder: Path) -> Path:
    """A prefix-tuning adapter folder (peft ``save_pretrained``) for SmolLM2 whose prefix is the base model's own
    keys and values for a short text: the usual "init from real tokens", so the model still writes sense."""
    import torch
    from peft import PrefixTuningConfig, TaskType, get_peft_model

    _, model, tokenizer = _base()
    ids = tokenizer(PREFIX_TEXT, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        cache = model(input_ids=ids, use_cache=True).cache
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' deprecation notes inside peft
        config = PrefixTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=int(ids.shape[1]))
        peft_model = get_peft_model(model, config)
        _fill_prefix(peft_model, cache)
        peft_model.save_pretrained(str(folder))
    return folder


def _fill_prefix(peft_model: Any, cache: Any) -> None:
    import torch

    config = peft_model.active_peft_config
    heads = config.num_attention_heads
    weight = peft_model.prompt_encoder["default"].embedding.weight
    view = weight.view(config.num_virtual_tokens, config.num_layers * 2, heads, config.token_dim // heads)
    with torch.no_grad():
        for layer in range(config.num_layers):
            keys, values = cache.layers[layer].keys[0], cache.layers[layer].values[0]  # heads x tokens x dim
            view[:, 2 * layer] = keys.permute(1, 0, 2)
            view[:, 2 * layer + 1] = values.permute(1, 0, 2)


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
