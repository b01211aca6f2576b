"""``llmnet up --config network.toml``: the file's network, checked before anything starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import llmnet
from llmnet.chain.memory_ledger import MemoryLedger
from llmnet.chain.network import dev_account
from llmnet.cli import network as network_cli
from llmnet.cli.main import full_app
from llmnet.config import load_settings
from llmnet.data import DEFAULT_NETWORK_FILE, KNOWLEDGE_ROOT, QUESTIONS_FILE
from llmnet.errors import ConfigError
from llmnet.launcher import DEFAULT_RESPONDENTS, Network, NetworkOptions, RespondentPlan, ensure_domains
from llmnet.network_file import read_network_file
from llmnet.roles.peers import PeerDeadlines

GEMMA = {"model": "gemma3-270m", "mode": "completion", "n_threads": 1}
BUILT_IN = (
    RespondentPlan("medicine-expert", ("medicine",), "medicine"),
    RespondentPlan("astronomy-expert", ("astronomy",), "astronomy"),
    RespondentPlan("law-expert", ("law",), "law"),
    RespondentPlan("general", ("general", "medicine", "astronomy", "law", "code")),
    RespondentPlan("general-gemma", ("general", "medicine", "astronomy", "law"), options=GEMMA, licence="Gemma",
                   version="Gemma-3-270M base Q4_K_M"),
)  # fmt: skip

EXPERT = """
[coordinator]
k = 2
rounds = 0
policy = "greedy"
collaboration = "fixed"
rating_timeout_s = 9.0

[validators]
count = 1
judge = "fake"

[ports]
coordinator = 9300
respondents = 9401
validators = 9501

[[respondents]]
name = "volcano-expert"
domains = ["volcanology"]
description = "Volcanoes: calderas, vents and eruptions."
knowledge = "volcanoes"
gguf = "weights/tiny.gguf"
threads = 2
licence = "MIT"

[[respondents]]
name = "remote"
domains = ["general", "law"]
backend = "openai_compat"
url = "http://127.0.0.1:8080/v1"
model = "qwen"

[[respondents]]
name = "shipped-law"
domains = ["law"]
knowledge = "law"
"""


def write(folder: Path, text: str) -> Path:
    (folder / "volcanoes").mkdir(exist_ok=True)
    (folder / "volcanoes" / "calderas.md").write_text("The Ostrava caldera is 14 km wide.\n")
    (folder / "weights").mkdir(exist_ok=True)
    (folder / "weights" / "tiny.gguf").write_bytes(b"GGUF")
    path = folder / "network.toml"
    path.write_text(text)
    return path


def test_the_built_in_network_is_the_shipped_file() -> None:
    assert DEFAULT_RESPONDENTS == BUILT_IN
    assert NetworkOptions().respondents == BUILT_IN
    assert read_network_file(DEFAULT_NETWORK_FILE).options() == {"respondents": BUILT_IN}


def test_the_shipped_data_is_found_through_the_package() -> None:
    package = Path(llmnet.__file__).parent
    assert KNOWLEDGE_ROOT.is_relative_to(package) and DEFAULT_NETWORK_FILE.is_relative_to(package)
    assert {"medicine", "astronomy", "law", "corpus-energy"} <= {p.name for p in KNOWLEDGE_ROOT.iterdir()}
    assert QUESTIONS_FILE.read_text(encoding="utf-8").count("\n") >= 30
    assert NetworkOptions().knowledge_root == KNOWLEDGE_ROOT


def test_a_file_gives_every_part_of_the_network(tmp_path: Path) -> None:
    options = network_cli.network_plan(write(tmp_path, EXPERT), None, None, None, None)
    assert (options.k, options.rounds, options.policy, options.collaboration) == (2, 0, "greedy", "fixed")
    assert (options.validators, options.judge) == (1, "fake")
    assert (options.coordinator_port, options.respondent_base_port, options.validator_base_port) == (9300, 9401, 9501)
    assert options.deadlines == PeerDeadlines(rating_timeout_s=9.0)
    expert, remote, law = options.respondents
    folder, weights = (tmp_path / "volcanoes").resolve(), (tmp_path / "weights" / "tiny.gguf").resolve()
    assert expert == RespondentPlan(
        "volcano-expert", ("volcanology",), str(folder), "Volcanoes: calderas, vents and eruptions.",
        "llamacpp", "MIT", "tiny.gguf", {"n_threads": 2, "model_path": str(weights)},
    )  # fmt: skip
    assert remote.backend == "openai_compat" and remote.options == {"base_url": "http://127.0.0.1:8080/v1",
                                                                     "model": "qwen"}  # fmt: skip
    assert (remote.licence, remote.version) == ("", "qwen")  # not the packaged model's
    assert law.knowledge == "law" and (options.knowledge_root / "law").is_dir()  # one of the shipped folders


def test_flags_win_over_the_file(tmp_path: Path) -> None:
    options = network_cli.network_plan(write(tmp_path, EXPERT), 3, 1, 20.0, None)
    assert (options.k, options.rounds) == (3, 1)
    assert options.deadlines == PeerDeadlines(respondent_timeout_s=20.0, rating_timeout_s=9.0)


def test_the_plans_reach_the_services_specs(tmp_path: Path) -> None:
    options = network_cli.network_plan(write(tmp_path, EXPERT), None, None, None, None)
    net = Network(load_settings(data_dir=tmp_path, rpc_url="http://127.0.0.1:18545"), options)  # never contacted
    net.ledger = object()  # type: ignore[assignment]  # only checked for presence while specs are written
    specs: dict[str, Any] = {spec.name: spec for _, spec in net._specs()}  # type: ignore[attr-defined]
    assert specs["coordinator"].policy == "greedy" and specs["coordinator"].collaboration == "fixed"
    assert specs["volcano-expert"].backend.knowledge == (tmp_path / "volcanoes").resolve()
    assert specs["volcano-expert"].port == 9401 and specs["validator-1"].judge.kind == "fake"


def test_domains_not_on_chain_are_created_by_governance() -> None:
    governance = dev_account(0)
    ledger = MemoryLedger(governance=governance.address, domains=("general", "law"))
    plans = (RespondentPlan("a", ("volcanology", "law")), RespondentPlan("b", ("general", "volcanology", "geysers")))
    assert ensure_domains(ledger, plans, governance) == ["volcanology", "geysers"]
    assert ledger.domains() == ["general", "law", "volcanology", "geysers"]
    assert ensure_domains(ledger, plans, governance) == []


RESPONDENT = '[[respondents]]\nname = "x"\ndomains = ["general"]\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            RESPONDENT + 'knowledge = "nowhere"\n',
            [
                "respondents[0] ('x') knowledge",
                "no folder",
                "nowhere",
                "corpus-energy",
                "give a folder of .md/.txt documents",
            ],
        ),
        (
            RESPONDENT + 'backend = "llamacpq"\n',
            ["respondents[0] ('x') backend", "unknown backend 'llamacpq'", "use one of", "llamacpp"],
        ),
        (
            '[[respondents]]\nname = "x"\ndomains = ["Volcano Logy"]\n',
            ["respondents[0] ('x') domains", "'Volcano Logy' is not a valid domain name", "lowercase letters"],
        ),
        (RESPONDENT + RESPONDENT, ["respondents: the name 'x' is used twice", "give each respondent its own name"]),
        ('[[respondents]]\nname = "x"\n', ["respondents[0] ('x') domains: Field required; add it"]),
        (
            RESPONDENT + 'domian = "law"\n',
            ["respondents[0] ('x') domian", "remove it or correct its spelling", "domains"],
        ),
        (RESPONDENT + 'gguf = "missing.gguf"\n', ["respondents[0] ('x') gguf", "no file at", "missing.gguf"]),
        (RESPONDENT + 'model = "llama-70b"\n', ["packages no model 'llama-70b'", "smollm2", "gguf"]),
        (RESPONDENT + 'backend = "openai_compat"\nmodel = "m"\n', ["needs url"]),
        (RESPONDENT + 'backend = "fake"\nthreads = 2\n', ["threads: not for backend 'fake'", "remove them"]),
        ("[coordinator]\nk = 400\n", ["[coordinator]: k = 400", "less than or equal to", "change k"]),
        ('[coordinator]\npolicy = "best"\n', ["[coordinator] policy", "unknown selection policy 'best'", "thompson"]),
        ('[validators]\njudge = "wise"\n', ["[validators] judge", "unknown judge 'wise'", "grounded"]),
        ("[ports]\ncoordinator = 70000\n", ["[ports] coordinator", "less than or equal to 65535"]),
        ("[coordinator\n", ["is not valid TOML"]),
    ],
)
def test_a_mistake_names_the_file_the_entry_the_field_and_the_fix(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    path = tmp_path / "network.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_network_file(path)
    assert str(caught.value).startswith(str(path))
    for fragment in expected:
        assert fragment in str(caught.value)


def test_ports_of_two_services_may_not_meet(tmp_path: Path) -> None:
    path = tmp_path / "network.toml"
    path.write_text("[ports]\ncoordinator = 9402\nrespondents = 9401\n" + RESPONDENT.replace('"x"', '"y"') + RESPONDENT)
    with pytest.raises(ConfigError, match=r"\[ports\]: respondent 'x' would listen on port 9402, as the coordinator"):
        network_cli.network_plan(path, None, None, None, None)


def test_llmnet_up_refuses_a_bad_file_before_starting_anything(tmp_path: Path) -> None:
    path = tmp_path / "network.toml"
    path.write_text(RESPONDENT + 'backend = "nope"\n')
    result = CliRunner().invoke(full_app(), ["up", "--config", str(path), "--data-dir", str(tmp_path / "data")])
    assert isinstance(result.exception, ConfigError) and "unknown backend 'nope'" in str(result.exception)
    assert not (tmp_path / "data").exists()
    missing = CliRunner().invoke(full_app(), ["up", "--config", str(tmp_path / "none.toml")])
    assert isinstance(missing.exception, ConfigError) and str(DEFAULT_NETWORK_FILE) in str(missing.exception)


def test_a_folder_beside_the_file_wins_over_a_shipped_one_of_that_name(tmp_path: Path) -> None:
    (tmp_path / "law").mkdir()
    path = write(tmp_path, RESPONDENT + 'knowledge = "law"\n')
    (plan,) = read_network_file(path).plans
    assert plan.knowledge == str((tmp_path / "law").resolve())


def test_an_openai_compatible_servers_key_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = '[[respondents]]\nname = "r"\ndomains = ["general"]\nbackend = "openai_compat"\n'
    path = write(tmp_path, remote + 'url = "http://127.0.0.1:8080/v1"\nmodel = "m"\napi_key_env = "MY_SERVER_KEY"\n')
    monkeypatch.delenv("MY_SERVER_KEY", raising=False)
    with pytest.raises(ConfigError, match="api_key_env: the environment variable MY_SERVER_KEY is not set"):
        read_network_file(path)
    monkeypatch.setenv("MY_SERVER_KEY", "sk-test")
    (plan,) = read_network_file(path).plans
    assert plan.options == {"base_url": "http://127.0.0.1:8080/v1", "model": "m", "api_key": "sk-test"}
