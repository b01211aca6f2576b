"""A network file's respondent may serve a trained expert: ``adapter = "runs/law-v2"`` on its model."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmnet.backends.weights import weights_sha256
from llmnet.config import load_settings
from llmnet.errors import ConfigError
from llmnet.launcher import Network, NetworkOptions
from llmnet.network_file import read_network_file
from llmnet.tuning.base import resolve_base
from llmnet.tuning.manifest import ExpertManifest
from tests.adapters import make_lora_run, tiny_adapter, tiny_gguf

ENTRY = '[[respondents]]\nname = "law-v2"\ndomains = ["law"]\nknowledge = "law"\n'


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A training run's folder (expert.json and its GGUF LoRA) for the packaged SmolLM2."""
    adapter = tiny_adapter(tmp_path / "lora.gguf", resolve_base("smollm2").sha256)
    return make_lora_run(tmp_path / "runs" / "law-v2", adapter)


def network(folder: Path, text: str) -> Path:
    path = folder / "network.toml"
    path.write_text(text)
    return path


def test_a_trained_run_is_served_by_llama_cpp_with_its_lora_and_manifest(tmp_path: Path, run: Path) -> None:
    options = read_network_file(network(tmp_path, ENTRY + 'adapter = "runs/law-v2"\n')).options()
    (plan,) = options["respondents"]
    assert plan.backend == "llamacpp"
    assert plan.options == {"n_threads": 1, "lora": str(run / "adapter.gguf"), "mode": "chat"}
    assert plan.expert == run / "expert.json"
    assert (plan.version, plan.licence) == ("smollm2+law-v2", "Apache-2.0")  # the licence of the manifest

    net = Network(load_settings(data_dir=tmp_path, rpc_url="http://127.0.0.1:18545"), NetworkOptions(**options))
    net.ledger = object()  # type: ignore[assignment]  # only checked for presence while specs are written
    spec = dict((s.name, s) for _, s in net._specs())["law-v2"]  # type: ignore[attr-defined]
    assert spec.backend.expert == run / "expert.json"  # served at GET /v1/expert
    assert spec.backend.options["lora"] == str(run / "adapter.gguf")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('adapter = "runs/none"\n', ["respondents[0] ('law-v2') adapter", "no adapter at", "llmnet expert train"]),
        ('adapter = "runs/law-v2"\nmodel = "gemma3-270m"\n', ["was trained on smollm2", "set [backend]"]),
        ('adapter = "runs/law-v2"\nbackend = "fake"\n', ["adapter: not for backend 'fake'", "remove them"]),
        ('adapter = "model.gguf"\n', ["is a whole GGUF model, not an adapter"]),
    ],
)
def test_an_adapter_that_cannot_be_served_is_refused_with_the_reason(
    tmp_path: Path, run: Path, extra: str, expected: list[str]
) -> None:
    tiny_gguf(tmp_path / "model.gguf", {"general.type": "model"})
    path = network(tmp_path, ENTRY + extra)
    with pytest.raises(ConfigError) as caught:
        read_network_file(path)
    for fragment in expected:
        assert fragment in str(caught.value)
    assert weights_sha256(run / "adapter.gguf") == ExpertManifest.load(run).artifact.sha256  # the run is untouched
