"""A trained LoRA written as a GGUF adapter, which llama.cpp applies to the base GGUF it was trained on.

    sha256 = write_lora_adapter(peft_model, Path("expert.lora.gguf"), base)
    adapter_base_sha256(Path("expert.lora.gguf"))  # the base's sha256, recorded in the adapter

The layout is the one llama.cpp's own converter writes: ``general.type = adapter``, ``adapter.type =
lora``, ``adapter.lora.alpha``, and per adapted matrix ``blk.N.<tensor>.weight.lora_a`` (r × in) and
``…lora_b`` (out × r). llama.cpp stores the query and key matrices of ``llama`` models with their
rows permuted for its rotary embedding, so ``lora_b`` of those is permuted the same way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmnet.errors import ConfigError

if TYPE_CHECKING:
    from llmnet.tuning.base import BaseModel

BASE_SHA_KEY = "adapter.llmnet.base_sha256"
# transformers module name -> llama.cpp tensor name
TENSOR_NAMES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}  # fmt: skip
_LORA = re.compile(r"layers\.(\d+)\.(.+)\.lora_([AB])(?:\.default)?\.weight$")


def _permute(w: Any, n_head: int) -> Any:
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def lora_tensors(peft_model: Any, architecture: str) -> dict[str, Any]:
    """GGUF tensor name -> float32 numpy array, for every LoRA matrix of ``peft_model``."""
    import numpy as np

    config = peft_model.base_model.model.config
    heads = {"attn_q": config.num_attention_heads, "attn_k": config.num_key_value_heads}
    tensors: dict[str, Any] = {}
    for key, value in peft_model.state_dict().items():
        m = _LORA.search(key)
        if m is None:
            continue
        layer, module, which = m.groups()
        if module not in TENSOR_NAMES:
            raise ConfigError(f"LoRA on {module!r} cannot be written for llama.cpp; target {sorted(TENSOR_NAMES)}")
        name = TENSOR_NAMES[module]
        array = value.detach().float().cpu().numpy().astype(np.float32)
        if which == "B" and architecture == "llama" and name in heads:
            array = _permute(array, heads[name])
        tensors[f"blk.{layer}.{name}.weight.lora_{which.lower()}"] = np.ascontiguousarray(array)
    if not tensors:
        raise ConfigError("the model has no LoRA weights to write; train it with a LoraConfig first")
    return tensors


def write_lora_adapter(peft_model: Any, path: Path, base: BaseModel) -> str:
    """Write ``peft_model``'s LoRA as a GGUF adapter for ``base``; returns the file's sha256 (hex)."""
    import gguf

    from llmnet.backends.llamacpp import weights_sha256
    from llmnet.tuning.base import gguf_architecture

    architecture = gguf_architecture(base.path)
    lora = peft_model.peft_config["default"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    writer = gguf.GGUFWriter(str(tmp), architecture)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(lora.lora_alpha))
    writer.add_string(BASE_SHA_KEY, base.sha256)
    for name, array in lora_tensors(peft_model, architecture).items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(path)
    return weights_sha256(path)


def adapter_base_sha256(path: Path) -> str:
    """The sha256 of the base model an llmnet GGUF adapter was trained on."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    kind, base = reader.get_field("adapter.type"), reader.get_field(BASE_SHA_KEY)
    if kind is None or str(kind.contents()) != "lora":
        raise ConfigError(f"{path} is not a GGUF LoRA adapter (no adapter.type = lora)")
    if base is None:
        raise ConfigError(f"{path} does not name its base model ({BASE_SHA_KEY}); write it with write_lora_adapter")
    return str(base.contents())
