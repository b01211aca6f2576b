"""`llmnet team` refuses bad input with a clear error and stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmnet.agents import RunStore
from llmnet.cli.main import app
from llmnet.cli.options import requester_key
from llmnet.errors import ConfigError, InputError, NotFound


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (["run", "reserch", "topic"], InputError, "unknown team 'reserch'; did you mean 'research'"),
        (["run", "research", "topic", "--budget", "lots"], InputError, "budget 'lots' is not understood"),
        (["run", "research", "  "], InputError, "needs something to work on"),
        (["run", "research", "topic", "--corpus", "/no/such/folder"], InputError, "is not a folder"),
        (["run", "research", "topic", "--k", "0"], InputError, "bad team settings"),
        (["run", "research", "topic", "--rounds", "0"], InputError, "n_round"),
        (["resume", "nope"], NotFound, "no team run 'nope'"),
        (["resume", "nope", "--budget", "5 dollars"], InputError, "budget '5 dollars'"),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(
    tmp_path: Path, args: list[str], error: type[Exception], message: str
) -> None:
    result = CliRunner().invoke(app, ["team", *args, "--key", "sk-test", "--data-dir", str(tmp_path)])
    assert isinstance(result.exception, error) and message in str(result.exception)
    runs = tmp_path / "agents" / "runs.sqlite"
    assert not runs.exists() or RunStore(runs).runs() == []


def test_the_api_key_comes_from_the_flag_the_environment_or_the_network_started_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMNET_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="no API key: pass --key"):
        requester_key(None, tmp_path)
    (tmp_path / "network").mkdir()
    (tmp_path / "network" / "requester.key").write_text("sk-llmnet-file\n")
    assert requester_key(None, tmp_path) == "sk-llmnet-file"
    monkeypatch.setenv("LLMNET_API_KEY", "sk-llmnet-env")
    assert requester_key(None, tmp_path) == "sk-llmnet-env"
    assert requester_key("sk-llmnet-flag", tmp_path) == "sk-llmnet-flag"


def test_a_run_held_by_one_process_is_refused_to_another(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite")
    store.create("r1", "research", "{}")
    other = RunStore(tmp_path / "runs.sqlite")  # another handle: another open file, as another process has
    with (
        store.claim("r1"),
        pytest.raises(InputError, match="run r1 is being run by another process"),
        other.claim("r1"),
    ):
        pass
    with store.claim("r1"):  # released when the holder is done
        pass
