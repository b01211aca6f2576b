"""The base model an expert is trained from: a GGUF file on this machine, its sha256 and licence.

base = resolve_base("smollm2")           # the packaged SmolLM2-135M-Instruct
base = resolve_base("/models/my.gguf", licence="Apache-2.0")
model, tokenizer = load_base(base)       # transformers, de-quantized to float32 (about 20 s)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from llmnet.errors import ConfigError

if TYPE_CHECKING:
    from llmnet.backends.llamacpp import Mode
else:
    Mode = Literal["chat", "completion"]


@dataclass(frozen=True)
class PackagedBase:
    locate: Callable[[], Path]
    licence: str
    mode: Mode  # how the model is prompted: its chat template, or few-shot Q:/A: completion


def _packaged() -> dict[str, PackagedBase]:
    from llmnet.backends.llamacpp import gemma_path, smollm2_path

    return {
        "smollm2": PackagedBase(smollm2_path, "Apache-2.0", "chat"),
        "gemma3-270m": PackagedBase(gemma_path, "Gemma", "completion"),
    }


@dataclass(frozen=True)
class BaseModel:
    name: str  # a packaged name, or the file's stem
    path: Path
    sha256: str  # hex, no 0x
    licence: str
    mode: Mode


def resolve_base(name_or_path: str, *, licence: str | None = None, mode: Mode | None = None) -> BaseModel:
    """A packaged model by name (``smollm2``, ``gemma3-270m``) or a GGUF file by path.

    A file's licence must be given: training on weights of unknown licence is refused."""
    from llmnet.backends.llamacpp import weights_sha256

    packaged = _packaged()
    if name_or_path in packaged:
        p = packaged[name_or_path]
        path = p.locate()
        return BaseModel(name_or_path, path, weights_sha256(path), licence or p.licence, mode or p.mode)
    path = Path(name_or_path)
    if path.suffix.lower() != ".gguf" or not path.is_file():
        raise ConfigError(
            f"base model {name_or_path!r} is neither a packaged model ({', '.join(sorted(packaged))}) "
            "nor an existing .gguf file; name one of those or give the path of a GGUF file"
        )
    if not licence:
        raise ConfigError(f"the licence of {path} is unknown; give it with --base-licence (an SPDX id: Apache-2.0)")
    return BaseModel(path.stem, path, weights_sha256(path), licence, mode or "chat")


def gguf_architecture(path: Path) -> str:
    """``general.architecture`` of a GGUF file (``llama``, ``gemma3`` …)."""
    from gguf import GGUFReader

    field = GGUFReader(str(path)).get_field("general.architecture")
    if field is None:
        raise ConfigError(f"{path} has no general.architecture; is it a GGUF model file?")
    return str(field.contents())


def load_base(base: BaseModel) -> tuple[Any, Any]:
    """(model, tokenizer) in float32 on the CPU, read from the GGUF file by transformers."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise ConfigError('training needs torch and transformers; install them with pip install -e ".[train]"') from e
    folder, name = str(base.path.parent), base.path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
