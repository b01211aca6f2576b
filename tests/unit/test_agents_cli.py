"""`llmnet team` refuses bad input with a clear error and stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmnet.agents import RunStore
from llmnet.cli.main import app
from llmnet.errors import InputError, NotFound


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (["run", "reserch", "topic"], InputError, "unknown team 'reserch'; did you mean 'research'"),
        (["run", "research", "topic", "--budget", "lots"], InputError, "budget 'lots' is not understood"),
        (["run", "research", "  "], InputError, "needs something to work on"),
        (["run", "research", "topic", "--corpus", "/no/such/folder"], InputError, "is not a folder"),
        (["run", "research", "topic", "--k", "0"], InputError, "bad team settings"),
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
