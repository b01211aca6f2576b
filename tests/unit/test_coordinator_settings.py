"""The coordinator's settings have one home (CoordinatorSettings); its config file, the launcher and
the CLI set the deadlines for answers and ratings through it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from llmnet.api.openai_app import CoordinatorSpec
from llmnet.cli import network as network_cli
from llmnet.cli.main import full_app
from llmnet.config import load_settings
from llmnet.errors import ConfigError
from llmnet.launcher import Network, NetworkOptions
from llmnet.roles.coordinator import CoordinatorSettings
from llmnet.roles.peers import PeerDeadlines

CHAIN = {"rpc_url": "http://127.0.0.1:8545", "deployments_file": "d.json"}
SERVICE = {"name": "coordinator", "port": 8300, "account": {"dev_index": 8}, "chain": CHAIN, "data_dir": "state"}


def test_the_config_file_sets_the_deadlines_and_the_rest_keep_their_one_default() -> None:
    spec = CoordinatorSpec.model_validate_json(
        CoordinatorSpec.model_validate(SERVICE | {"rating_timeout_s": 7, "grace_min_s": 0.25}).model_dump_json()
    )
    settings = spec.settings()
    assert settings.rating_timeout_s == 7 and settings.grace_min_s == 0.25
    assert settings.model_dump(exclude={"rating_timeout_s", "grace_min_s"}) == CoordinatorSettings().model_dump(
        exclude={"rating_timeout_s", "grace_min_s"}
    )


@pytest.mark.parametrize(
    ("field", "value"), [("rating_timeout_s", 0), ("respondent_timeout_s", -1), ("k", 17), ("final", "worst")]
)
def test_the_config_file_is_held_to_the_same_limits(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        CoordinatorSpec.model_validate(SERVICE | {field: value})


def test_the_launcher_hands_its_deadlines_to_the_coordinator_spec(tmp_path: Path) -> None:
    limits = PeerDeadlines(respondent_timeout_s=9, rating_timeout_s=4, cooldown_s=1)
    settings = load_settings(data_dir=tmp_path, rpc_url="http://127.0.0.1:18545")  # never contacted
    net = Network(settings, NetworkOptions(deadlines=limits))
    net.ledger = object()  # type: ignore[assignment]  # only checked for presence while specs are written
    (spec,) = [s for role, s in net._specs() if role == "coordinator"]
    assert isinstance(spec, CoordinatorSpec)
    assert PeerDeadlines.model_validate(spec.settings().model_dump()) == limits


def test_the_cli_sets_the_deadlines_of_up_and_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[PeerDeadlines] = []

    def start(data_dir: Path | None, port: int | None, options: NetworkOptions) -> Network:
        seen.append(options.deadlines)
        raise ConfigError("not starting a network in this test")

    monkeypatch.setattr(network_cli, "_start", start)
    CliRunner().invoke(full_app(), ["up", "--rating-timeout", "4.5"])
    CliRunner().invoke(full_app(), ["demo", "--respondent-timeout", "20", "--rating-timeout", "3"])
    assert seen == [PeerDeadlines(rating_timeout_s=4.5), PeerDeadlines(respondent_timeout_s=20, rating_timeout_s=3)]


def test_a_bad_deadline_on_the_command_line_names_the_option() -> None:
    result = CliRunner().invoke(full_app(), ["up", "--rating-timeout", "0"])
    assert isinstance(result.exception, ConfigError)
    assert "--rating-timeout 0" in str(result.exception) and "greater than 0" in str(result.exception)
