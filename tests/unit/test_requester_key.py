"""Which API key `llmnet ask` (and every requester command) uses: given, environment, the key
`llmnet keys login` kept for that coordinator, the key `llmnet up` wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmnet.cli.login import coordinator_base, key_file
from llmnet.cli.options import requester_key
from llmnet.errors import ConfigError

URL = "http://10.0.0.9:8370/v1"


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMNET_API_KEY", raising=False)


def keep(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")


def test_the_key_kept_by_login_serves_its_coordinator_and_only_it(tmp_path: Path) -> None:
    keep(key_file(tmp_path, coordinator_base(URL)), "sk-llmnet-login")
    keep(tmp_path / "network" / "requester.key", "sk-llmnet-up")
    assert requester_key(None, tmp_path, URL) == "sk-llmnet-login"
    assert requester_key(None, tmp_path, "http://10.0.0.9:8370") == "sk-llmnet-login"  # same coordinator
    assert requester_key(None, tmp_path, "http://10.0.0.10:8370/v1") == "sk-llmnet-up"  # another one
    assert requester_key("sk-llmnet-given", tmp_path, URL) == "sk-llmnet-given"


def test_the_environment_wins_over_kept_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keep(key_file(tmp_path, coordinator_base(URL)), "sk-llmnet-login")
    monkeypatch.setenv("LLMNET_API_KEY", "sk-llmnet-env")
    assert requester_key(None, tmp_path, URL) == "sk-llmnet-env"


def test_no_key_anywhere_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="llmnet keys login --coordinator"):
        requester_key(None, tmp_path, URL)
