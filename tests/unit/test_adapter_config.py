"""``[backend] adapter``: a respondent serves a trained expert, by llama.cpp (a GGUF LoRA adapter) or by
transformers (a prefix-tuned run), only on the base model it was trained on, with its manifest."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest

from llmnet.errors import ConfigError
from llmnet.roles.config import load_role_config
from llmnet.roles.respondent import RespondentSpec
from llmnet.tuning.gguf_adapter import BASE_SHA_KEY
from llmnet.tuning.manifest import Artifact, BaseRef, DatasetRef, ExpertManifest, TrainingStats

RPC = 'rpc_url = "http://127.0.0.1:18545"\ndev = 15\n'


def tiny_gguf(path: Path, strings: dict[str, str]) -> Path:
    """A GGUF file with these metadata strings and one small tensor: enough to be read, not to be run."""
    import gguf

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
    return tiny_gguf(path, {"general.type": "adapter", "adapter.type": "lora", BASE_SHA_KEY: base_sha256})


def manifest(base_sha256: str, kind: str, file: str, sha256: str) -> ExpertManifest:
    return ExpertManifest(
        name="law-v2", domains=["law"], base=BaseRef(name="base", sha256=base_sha256, licence="MIT", mode="completion"),
        method="lora" if kind == "gguf-lora" else "prefix", objective="sft", hyperparameters={"steps": 2},
        dataset=DatasetRef(sha256="0" * 64, examples=2), artifact=Artifact(kind=kind, file=file, sha256=sha256),  # type: ignore[arg-type]
        licence="MIT", training=TrainingStats(steps=2, seconds=1.0, peak_rss_mb=1.0, final_loss=0.5),
        created_at=int(time.time()),
    )  # fmt: skip


@pytest.fixture
def base(tmp_path: Path) -> tuple[Path, str]:
    path = tiny_gguf(tmp_path / "base.gguf", {"general.type": "model"})
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def spec_of(tmp_path: Path, adapter: str, extra: str = "") -> RespondentSpec:
    text = RPC + f'[backend]\nkind = "gguf"\npath = "base.gguf"\nthreads = 1\nadapter = "{adapter}"\n{extra}'
    (tmp_path / "respondent.toml").write_text(text)
    spec = load_role_config("respondent", tmp_path / "respondent.toml", env={}, flags={}).spec(31337)
    assert isinstance(spec, RespondentSpec)
    return spec


def refusal(tmp_path: Path, adapter: str) -> str:
    with pytest.raises(ConfigError) as caught:
        spec_of(tmp_path, adapter)
    return str(caught.value)


def test_a_gguf_lora_adapter_is_applied_by_llama_cpp(tmp_path: Path, base: tuple[Path, str]) -> None:
    tiny_adapter(tmp_path / "adapter.gguf", base[1])
    spec = spec_of(tmp_path, "adapter.gguf")
    assert spec.backend.kind == "llamacpp" and spec.backend.expert is None
    assert spec.backend.options == {"model_path": str(base[0]), "mode": "chat", "n_threads": 1,
                                    "lora": str(tmp_path / "adapter.gguf")}  # fmt: skip


def test_an_adapter_trained_on_another_base_is_refused(tmp_path: Path, base: tuple[Path, str]) -> None:
    tiny_adapter(tmp_path / "adapter.gguf", "ab" * 32)
    message = refusal(tmp_path, "adapter.gguf")
    assert "backend: the adapter" in message and "trained on the base model with sha256 abababab" in message
    assert "load the base it was trained on" in message


def test_a_whole_model_is_no_adapter(tmp_path: Path, base: tuple[Path, str]) -> None:
    (tmp_path / "model.gguf").write_bytes(base[0].read_bytes())
    assert "a whole GGUF model, not an adapter; serve it with kind = 'gguf'" in refusal(tmp_path, "model.gguf")


def test_a_lora_training_run_serves_its_artifact_with_its_manifest(tmp_path: Path, base: tuple[Path, str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    artifact = tiny_adapter(run / "adapter.gguf", base[1])
    manifest(base[1], "gguf-lora", "adapter.gguf", hashlib.sha256(artifact.read_bytes()).hexdigest()).save(run)
    spec = spec_of(tmp_path, "run")
    assert spec.backend.kind == "llamacpp" and spec.backend.expert == run / "expert.json"
    assert spec.backend.options["lora"] == str(artifact)
    assert spec.backend.options["mode"] == "completion"  # as the base was prompted in training


def test_a_prefix_training_run_is_served_by_transformers(tmp_path: Path, base: tuple[Path, str]) -> None:
    (tmp_path / "run" / "prefix").mkdir(parents=True)
    weights = tmp_path / "run" / "prefix" / "adapter_model.safetensors"
    weights.write_bytes(b"prefix weights")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    manifest(base[1], "peft-prefix", "prefix/adapter_model.safetensors", digest).save(tmp_path / "run")
    spec = spec_of(tmp_path, "run", 'mode = "chat"\n')
    assert spec.backend.kind == "transformers" and spec.backend.expert == tmp_path / "run" / "expert.json"
    assert spec.backend.options == {"base": str(base[0]), "adapter": str(weights.parent), "mode": "chat",
                                    "n_threads": 1}  # fmt: skip


def test_an_artifact_changed_after_training_is_refused(tmp_path: Path, base: tuple[Path, str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    tiny_adapter(run / "adapter.gguf", base[1])
    manifest(base[1], "gguf-lora", "adapter.gguf", "1" * 64).save(run)
    assert "does not hash to the sha256 its manifest records" in refusal(tmp_path, "run")


def test_a_run_trained_on_another_base_is_refused(tmp_path: Path, base: tuple[Path, str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    artifact = tiny_adapter(run / "adapter.gguf", base[1])
    manifest("cd" * 32, "gguf-lora", "adapter.gguf", hashlib.sha256(artifact.read_bytes()).hexdigest()).save(run)
    assert "was trained on base (sha256 cdcdcdcd" in refusal(tmp_path, "run")


def test_a_folder_with_no_adapter_says_what_to_give(tmp_path: Path, base: tuple[Path, str]) -> None:
    (tmp_path / "empty").mkdir()
    assert "is no adapter: give a GGUF LoRA adapter file" in refusal(tmp_path, "empty")
