"""What to train and on what: the spec's validation, the licence checks made before any model is loaded,
the preference export as training reads it, and the loss log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmnet.errors import ConfigError, InputError
from llmnet.tuning import train
from llmnet.tuning.examples import Prompter, dataset_sha256, rankings_source, read_preferences
from llmnet.tuning.licences import LicenceError
from llmnet.tuning.losslog import LossLog, LossPoint, plot_loss
from llmnet.tuning.spec import DEFAULT_LEARNING_RATE, DEFAULT_STEPS, Hyperparameters, TrainSpec

PAIR = {"prompt": "Where is Skellport?", "chosen": "On Varn's north coast.", "rejected": "No idea.",
        "chosen_licence": "Apache-2.0", "rejected_licence": "MIT", "chain_id": 31337, "contract": "0xC0",
        "block_number": 7, "domain": "varn"}  # fmt: skip


def folder(tmp_path: Path, licence: str | None = "CC-BY-4.0") -> Path:
    docs = tmp_path / "varn"
    docs.mkdir()
    (docs / "varn.md").write_text("# Varn\n\nThe capital of Varn is Skellport.\n")
    if licence is not None:
        (docs / "LICENCE").write_text(f"{licence}\n\nFull text follows.\n")
    return docs


def prefs(tmp_path: Path, *rows: dict[str, Any]) -> Path:
    path = tmp_path / "prefs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def spec(**values: Any) -> TrainSpec:
    return TrainSpec.build(**({"name": "varn-v2", "domains": ("varn",)} | values))


def test_objective_follows_from_the_data(tmp_path: Path) -> None:
    docs, pairs = folder(tmp_path), prefs(tmp_path, PAIR)
    assert (spec(knowledge=docs).objective, spec(knowledge=docs).stages) == ("sft", ("sft",))
    assert (spec(preferences=pairs).objective, spec(preferences=pairs).stages) == ("dpo", ("dpo",))
    both = spec(knowledge=docs, preferences=pairs)
    assert (both.objective, both.stages) == ("sft+dpo", ("sft", "dpo"))


def test_spec_errors_name_the_field_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nothing to train on: give a knowledge folder, a preference export"):
        spec()
    with pytest.raises(ConfigError, match=r"knowledge folder .*nowhere does not exist"):
        spec(knowledge=tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="llmnet dataset export --format dpo-jsonl"):
        spec(preferences=tmp_path / "none.jsonl")
    docs = folder(tmp_path)
    with pytest.raises(ConfigError, match=r"hyper: give steps \(5\) or epochs \(2.0\), not both"):
        spec(knowledge=docs, hyper={"steps": 5, "epochs": 2})
    with pytest.raises(ConfigError, match=r"lora_targets: .*\['lm_head'\] cannot be served by llama.cpp; choose among"):
        spec(knowledge=docs, hyper={"lora_targets": ["q_proj", "lm_head"]})
    with pytest.raises(ConfigError, match="method: Input should be 'lora' or 'prefix'"):
        spec(knowledge=docs, method="qlora")
    with pytest.raises(ConfigError, match="name: String should match pattern"):
        spec(knowledge=docs, name="../escape")


def test_hyperparameter_defaults_and_what_the_manifest_records() -> None:
    h = Hyperparameters()
    assert h.max_steps == DEFAULT_STEPS and Hyperparameters(epochs=2).max_steps == -1
    assert h.learning_rate_for("prefix") == DEFAULT_LEARNING_RATE["prefix"] != h.learning_rate_for("lora")
    lora, prefix = h.recorded("lora"), Hyperparameters(learning_rate=0.05, epochs=3).recorded("prefix")
    assert lora["lora_targets"] == ["q_proj", "k_proj", "v_proj", "o_proj"] and "virtual_tokens" not in lora
    assert prefix["learning_rate"] == 0.05 and prefix["epochs"] == 3 and "steps" not in prefix
    assert "lora_r" not in prefix and prefix["virtual_tokens"] == 20 and "dpo_beta" not in prefix
    assert h.recorded("lora", dpo=True)["dpo_beta"] == 0.1


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a model fails the test: licences are checked before."""

    def refuse(*args: Any) -> None:
        raise AssertionError("a model was loaded before the licences were checked")

    monkeypatch.setattr(train, "load_base", refuse)


@pytest.mark.usefixtures("no_model")
def test_forbidding_licences_are_refused_before_loading(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(LicenceError, match=r"knowledge folder .*varn is under 'CC-BY-NC-ND-4.0', which forbids"):
        train.train_expert(spec(knowledge=folder(tmp_path, "CC-BY-NC-ND-4.0")), out)
    pairs = prefs(tmp_path, PAIR, PAIR | {"rejected_licence": "Proprietary"})
    with pytest.raises(LicenceError, match=r"a response in prefs.jsonl \(model licence\) is under 'Proprietary'"):
        train.train_expert(spec(preferences=pairs), out)
    with pytest.raises(LicenceError, match=r"base model smollm2 is under 'CC-BY-ND-4.0'"):
        train.train_expert(spec(preferences=prefs(tmp_path, PAIR), base_licence="CC-BY-ND-4.0"), out)
    assert not out.exists()


@pytest.mark.usefixtures("no_model")
def test_a_knowledge_folder_needs_a_licence(tmp_path: Path) -> None:
    docs = folder(tmp_path, licence=None)
    with pytest.raises(LicenceError, match=r"put its SPDX id .* LICENCE file there, or give it with --data-licence"):
        train.train_expert(spec(knowledge=docs), tmp_path / "run")
    assert train.prepare(spec(knowledge=docs, knowledge_licence="MIT")).knowledge_licence == "MIT"
    (docs / "LICENSE").write_text("\n  Apache-2.0\n")
    assert train.prepare(spec(knowledge=docs)).knowledge_licence == "Apache-2.0"


def test_a_stated_expert_licence_must_be_the_one_its_inputs_give(tmp_path: Path) -> None:
    docs = folder(tmp_path, "CC-BY-SA-4.0")
    assert train.prepare(spec(knowledge=docs)).expert_licence(None) == "CC-BY-SA-4.0"
    assert train.prepare(spec(knowledge=docs, licence="cc-by-sa-4.0")).knowledge_licence == "CC-BY-SA-4.0"
    with pytest.raises(LicenceError, match=r"cannot be under 'MIT': its base model and data make it 'CC-BY-SA-4.0'"):
        train.prepare(spec(knowledge=docs, licence="MIT"))


def test_a_gguf_base_needs_its_licence(tmp_path: Path) -> None:
    weights = tmp_path / "mine.gguf"
    weights.write_bytes(b"GGUF")
    with pytest.raises(ConfigError, match=r"the licence of .*mine.gguf is unknown; give it with --base-licence"):
        train.prepare(spec(preferences=prefs(tmp_path, PAIR), base=str(weights)))


def test_preferences_and_where_they_came_from(tmp_path: Path) -> None:
    rows = read_preferences(prefs(tmp_path, PAIR | {"block_number": 12}, PAIR, PAIR | {"block_number": 9}))
    source = rankings_source(rows)
    assert (source.chain_id, source.contract, source.from_block, source.to_block) == (31337, "0xC0", 7, 12)
    assert (source.pairs, source.licences) == (3, ["Apache-2.0", "MIT"])
    old = {k: v for k, v in PAIR.items() if k != "block_number"}
    with pytest.raises(InputError, match=r"prefs.jsonl line 2: block_number: Field required; export the rankings"):
        read_preferences(prefs(tmp_path, PAIR, old))
    with pytest.raises(InputError, match="come from 2 rankings contracts"):
        rankings_source(read_preferences(prefs(tmp_path, PAIR, PAIR | {"contract": "0xD0"})))
    with pytest.raises(InputError, match="has no preference pairs; rank some answers first"):
        read_preferences(prefs(tmp_path))


def test_completion_mode_prompts_as_llama_cpp_does() -> None:
    from llmnet.backends.base import ChatMessage

    prompter = Prompter("completion", tokenizer=None)
    row = prompter.dpo(read_row())
    assert row["prompt"].endswith("Q: Where is Skellport?\nA:") and row["prompt"].count("Q: ") > 1
    assert (row["chosen"], row["rejected"]) == (" On Varn's north coast.\n", " No idea.\n")
    assert prompter.prompt((ChatMessage("system", "Be brief."), ChatMessage("user", "Hi?"))).startswith("Be brief.")


def read_row() -> Any:
    from llmnet.tuning.examples import PreferenceRow

    return PreferenceRow.model_validate(PAIR)


def test_the_dataset_hash_covers_order_and_stage() -> None:
    a, b = {"prompt": "p1", "completion": "c1"}, {"prompt": "p2", "completion": "c2"}
    assert dataset_sha256({"sft": [a, b]}) != dataset_sha256({"sft": [b, a]})
    assert dataset_sha256({"sft": [a]}) != dataset_sha256({"dpo": [a]})
    assert len(dataset_sha256({"sft": [a]})) == 64


def test_a_run_folder_resumes_only_the_same_run(tmp_path: Path) -> None:
    docs = folder(tmp_path)
    train.check_run_folder(tmp_path / "run", spec(knowledge=docs), "aa" * 32)
    train.check_run_folder(tmp_path / "run", spec(knowledge=docs, hyper={"steps": 99}), "aa" * 32)  # more steps
    with pytest.raises(ConfigError, match=r"holds a run with another method, dataset_sha256; .* new --out folder"):
        train.check_run_folder(tmp_path / "run", spec(knowledge=docs, method="prefix"), "bb" * 32)


def test_loss_log_keeps_each_step_once_and_plots(tmp_path: Path) -> None:
    log = LossLog(tmp_path / "loss.jsonl")
    assert log.next_run() == 1 and log.points() == []
    for step in range(1, 6):
        log.append(LossPoint(stage="sft", step=step, loss=2.0 / step, learning_rate=1e-3, run=1))
    log.append(LossPoint(stage="dpo", step=1, loss=0.69, learning_rate=1e-3, run=1))
    log.keep_until("sft", 4)  # the process died after step 5; the checkpoint is at step 4
    assert [(p.stage, p.step) for p in log.points()] == [("sft", 1), ("sft", 2), ("sft", 3), ("sft", 4), ("dpo", 1)]
    assert log.next_run() == 2
    png = plot_loss(log.points(), tmp_path / "loss.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


@pytest.mark.usefixtures("no_model")
def test_cli_train_refuses_a_forbidden_licence(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from llmnet.cli.main import full_app

    args = ["expert", "train", "--name", "varn-v2", "--domain", "varn", "--out", str(tmp_path / "run"),
            "--knowledge", str(folder(tmp_path)), "--data-licence", "CC-BY-ND-4.0", "--steps", "3"]  # fmt: skip
    result = CliRunner().invoke(full_app(), args)
    assert isinstance(result.exception, LicenceError) and "forbids derivative models" in str(result.exception)
    assert "training varn-v2 (varn): lora on smollm2, sft from knowledge" in result.output
    result = CliRunner().invoke(full_app(), [*args[:-2], "--steps", "0"])
    assert isinstance(
        result.exception, ConfigError
    ) and "hyper.steps: Input should be greater than or equal to 1" in str(result.exception)
