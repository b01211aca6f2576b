"""What a respondent's ``[backend] adapter = "PATH"`` names, and which backend serves it.

- a GGUF LoRA adapter file: llama.cpp applies it to the ``[backend]`` model;
- a training run's folder (``llmnet expert train`` wrote its ``expert.json``): its artifact, a GGUF LoRA
  (llama.cpp) or a prefix-tuning folder (the transformers backend), checked against the manifest's sha256
  and base model;
- a peft adapter folder (``adapter_model.safetensors``): the transformers backend.

The registered weights hash of such a respondent is the artifact's sha256 (the backend's ``weights_sha256``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llmnet.errors import ConfigError

Runtime = Literal["llamacpp", "transformers"]


@dataclass(frozen=True)
class ServedAdapter:
    runtime: Runtime
    path: Path  # the GGUF adapter file, or the peft adapter folder
    manifest: Path | None = None  # expert.json, served at GET /v1/expert
    mode: Literal["chat", "completion"] | None = None  # how the base was prompted in training

    def options(self, base: dict[str, Any], mode: str | None) -> tuple[str, dict[str, Any]]:
        """The backend kind and options serving this adapter on ``base`` (llama.cpp options of the base)."""
        mode = mode or self.mode or "chat"
        if self.runtime == "llamacpp":
            return "llamacpp", base | {"lora": str(self.path), "mode": mode}
        given = {"base": base.get("model_path") or base.get("model"), "adapter": str(self.path), "mode": mode,
                 "n_threads": base.get("n_threads")}  # fmt: skip
        return "transformers", {k: v for k, v in given.items() if v is not None}


def served_adapter(path: Path, base_file: Path) -> ServedAdapter:
    """What ``path`` is, once it is known to fit the base model in ``base_file``."""
    from llmnet.tuning.manifest import MANIFEST_FILE

    if path.is_file():
        return _gguf_lora(path, base_file)
    if (path / MANIFEST_FILE).is_file():
        return _trained_run(path, base_file)
    from llmnet.backends.transformers_backend import ADAPTER_WEIGHTS

    if (path / ADAPTER_WEIGHTS).is_file():
        return ServedAdapter("transformers", path)
    raise ConfigError(f"{path} is no adapter: give a GGUF LoRA adapter file, a folder `llmnet expert train` wrote "
                      f"(with {MANIFEST_FILE}), or a peft adapter folder (with {ADAPTER_WEIGHTS})")  # fmt: skip


def _gguf_lora(path: Path, base_file: Path) -> ServedAdapter:
    from llmnet.backends.llamacpp import check_adapter
    from llmnet.backends.weights import gguf_kind, weights_sha256

    if gguf_kind(path) != "adapter":
        raise ConfigError(f"{path} is a whole GGUF model, not an adapter; serve it with kind = 'gguf', path = it")
    check_adapter(path, weights_sha256(base_file))
    return ServedAdapter("llamacpp", path)


def _trained_run(folder: Path, base_file: Path) -> ServedAdapter:
    from llmnet.backends.weights import weights_sha256
    from llmnet.tuning.manifest import MANIFEST_FILE, ExpertManifest
    from llmnet.tuning.registration import check_artifact

    manifest = ExpertManifest.load(folder)
    check_artifact(manifest, folder)
    artifact = folder / manifest.artifact.file
    base_sha = weights_sha256(base_file)
    if base_sha != manifest.base.sha256:
        raise ConfigError(f"the expert in {folder} was trained on {manifest.base.name} (sha256 "
                          f"{manifest.base.sha256[:16]}…), not on {base_file.name}; "
                          "set [backend] to that base model")  # fmt: skip
    if manifest.artifact.kind == "gguf-lora":
        return ServedAdapter("llamacpp", artifact, folder / MANIFEST_FILE, manifest.base.mode)
    return ServedAdapter("transformers", artifact.parent, folder / MANIFEST_FILE, manifest.base.mode)
