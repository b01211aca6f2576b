"""Training SmolLM2 experts on the CPU: a LoRA run stopped and resumed, served by llama.cpp; a prefix-tuned
run on knowledge then preferences (SFT, then DPO)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoTokenizer

from llmnet.experts.corpus import corpus_hash_of
from llmnet.tuning.base import resolve_base
from llmnet.tuning.examples import Prompter
from llmnet.tuning.gguf_adapter import adapter_base_sha256
from llmnet.tuning.losslog import LossLog
from llmnet.tuning.pairs import sft_examples
from llmnet.tuning.registration import checked_run
from llmnet.tuning.spec import TrainSpec
from llmnet.tuning.train import train_expert

pytestmark = pytest.mark.integration
DOCS = {
    "harbour.md": "# Skellport\n\nThe capital of Varn is Skellport. Skellport lies on the northern coast of the isle.",
    "dam.md": "# South Varn Dam\n\nThe South Varn Dam was completed in 1958. The dam is 84 metres high.",
    "fox.md": "# Varn fox\n\nThe Varn fox has a silver coat. The fox hunts along the cliffs at night.",
}
PAIRS = [("Where is Skellport?", "Skellport lies on the northern coast of Varn.", "I do not know."),
         ("How high is the South Varn Dam?", "The dam is 84 metres high.", "It is very tall.")]  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    folder = tmp_path / "varn"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text + "\n")
    (folder / "LICENCE").write_text("CC-BY-4.0\n")
    return folder


def preference_file(tmp_path: Path) -> Path:
    rows = [{"prompt": q, "chosen": good, "rejected": bad, "chosen_licence": "Apache-2.0", "rejected_licence": "MIT",
             "chain_id": 31337, "contract": "0x" + "c0" * 20, "block_number": 40 + i}
            for i, (q, good, bad) in enumerate(PAIRS)]  # fmt: skip
    path = tmp_path / "prefs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lora_spec(knowledge: Path, steps: int) -> TrainSpec:
    return TrainSpec.build(name="varn-v2", domains=("varn",), knowledge=knowledge,
                           hyper={"steps": steps, "batch_size": 2, "save_steps": 4, "max_length": 256})  # fmt: skip


def llama_cpp(base: Path, adapter: Path | None) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(base)
    params.n_ctx, params.n_parallel, params.cpuparams.n_threads, params.verbosity = 512, 1, 1, -1
    if adapter is not None:
        params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(adapter), 1.0)]
    return xllamacpp.Server(params)


def test_lora_expert_stops_resumes_and_llama_cpp_serves_it(knowledge: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = train_expert(lora_spec(knowledge, 8), run, progress=False)
    assert first.training.steps == 8 and (run / "checkpoints" / "sft" / "checkpoint-8").is_dir()
    manifest = train_expert(lora_spec(knowledge, 12), run, progress=False)
    points = LossLog(run / "loss.jsonl").points()
    # steps 1-8 were trained by the first run and kept: the second started from its checkpoint
    assert [(p.step, p.run) for p in points] == [(s, 1 if s <= 8 else 2) for s in range(1, 13)]
    assert points[8].learning_rate == pytest.approx(1e-3 * (12 - 8) / 12)  # on the 12-step schedule
    assert manifest == checked_run(run) and manifest.training.steps == 12  # what `llmnet expert register` reads
    base = resolve_base("smollm2")
    assert (manifest.method, manifest.objective, manifest.base.sha256) == ("lora", "sft", base.sha256)
    assert manifest.artifact.kind == "gguf-lora" and manifest.artifact.sha256 == sha256(run / "adapter.gguf")
    assert adapter_base_sha256(run / "adapter.gguf") == base.sha256
    source = manifest.dataset.knowledge
    assert source is not None and source.corpus_sha256 == corpus_hash_of(knowledge).removeprefix("0x")
    assert (source.licence, manifest.licence, manifest.dataset.rankings) == ("CC-BY-4.0", "Apache-2.0", None)
    assert manifest.hyperparameters["steps"] == 12 and (run / "loss.png").stat().st_size > 5000
    assert 0 < manifest.training.final_loss == points[-1].loss and manifest.training.peak_rss_mb > 300

    served = llama_cpp(base.path, run / "adapter.gguf")
    plain = llama_cpp(base.path, None)
    example = sft_examples(knowledge)[0]
    prompt = Prompter("chat", AutoTokenizer.from_pretrained(str(base.path.parent), gguf_file=base.path.name)).prompt(
        example.messages
    )
    chat = [{"role": m.role, "content": m.content} for m in example.messages]
    expert, before = (chat_answer(server, chat) for server in (served, plain))
    print(f"trained on {example.answer!r}; served with the adapter: {expert[0]!r}; without: {before[0]!r}")
    assert expert[0] != before[0]  # llama.cpp applies the adapter
    # the prompt trained on is the one llama.cpp builds from the GGUF's chat template (default system prompt and
    # all): the same text sent raw gives the same tokens and the same greedy answer
    assert "You are a helpful AI assistant named SmolLM" in prompt
    raw = served.handle_completions({"prompt": prompt, **GREEDY})
    assert (raw["choices"][0]["text"], raw["usage"]["prompt_tokens"]) == expert


GREEDY = {"max_tokens": 32, "temperature": 0, "seed": 0, "cache_prompt": False}


def chat_answer(server: Any, messages: list[dict[str, str]]) -> tuple[str, int]:
    reply = server.handle_chat_completions({"messages": messages, **GREEDY})
    return reply["choices"][0]["message"]["content"], reply["usage"]["prompt_tokens"]


def test_prefix_expert_trains_on_knowledge_then_preferences(knowledge: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    hyper = {"steps": 3, "batch_size": 2, "virtual_tokens": 8, "max_length": 256}
    spec = TrainSpec.build(name="varn-p", domains=("varn",), method="prefix", knowledge=knowledge,
                           preferences=preference_file(tmp_path), hyper=hyper)  # fmt: skip
    run = tmp_path / "prefix-run"
    manifest = train_expert(spec, run, progress=False)
    assert (manifest.method, manifest.objective, manifest.training.steps) == ("prefix", "sft+dpo", 6)
    assert manifest.artifact.kind == "peft-prefix" and manifest.artifact.file == "prefix/adapter_model.safetensors"
    assert manifest.artifact.sha256 == sha256(run / manifest.artifact.file) and checked_run(run) == manifest
    assert json.loads((run / "prefix" / "adapter_config.json").read_text())["peft_type"] == "PREFIX_TUNING"
    (weights,) = load_file(str(run / manifest.artifact.file)).values()
    assert weights.shape == (8, 2 * 30 * 3 * 64)  # virtual tokens x (key and value: layers x kv heads x head dim)
    rankings = manifest.dataset.rankings
    assert rankings is not None and (rankings.from_block, rankings.to_block, rankings.pairs) == (40, 41, 2)
    assert manifest.dataset.examples == len(sft_examples(knowledge)) + 2  # the folder's examples and 2 pairs
    assert manifest.hyperparameters["virtual_tokens"] == 8
    assert manifest.hyperparameters["dpo_beta"] == 0.1
    points = LossLog(run / "loss.jsonl").points()
    stages = [(p.stage, p.step) for p in points]
    assert stages == [("sft", 1), ("sft", 2), ("sft", 3), ("dpo", 1), ("dpo", 2), ("dpo", 3)]
    # the prefix starts as the model's own keys and values for real text, so the model reads sense from the
    # first step (a random prefix starts near a loss of 6-7 on these examples)
    assert points[0].loss < 3
    # trained again when finished, a run trains nothing more and writes the same expert
    again = train_expert(spec, run, progress=False)
    assert (again.artifact, again.training.steps, again.dataset) == (manifest.artifact, 6, manifest.dataset)
    assert [(p.stage, p.step) for p in LossLog(run / "loss.jsonl").points()] == stages
