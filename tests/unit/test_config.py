from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from llmnet.config import load_settings


def test_layers_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('chain_port = 9001\nrpc_url = "http://127.0.0.1:7000"\nreputation_decay = 0.5\n')
    monkeypatch.setenv("LLMNET_CONFIG", str(config))
    monkeypatch.delenv("LLMNET_RPC_URL", raising=False)
    monkeypatch.delenv("LLMNET_CHAIN_PORT", raising=False)
    assert load_settings().chain_port == 9001
    monkeypatch.setenv("LLMNET_CHAIN_PORT", "9002")
    assert load_settings().chain_port == 9002
    s = load_settings(chain_port=9003, rpc_url=None)
    assert s.chain_port == 9003 and s.rpc_url == "http://127.0.0.1:7000" and s.reputation_decay == 0.5


def test_bad_values_name_the_field(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMNET_CONFIG", str(tmp_path / "none.toml"))
    with pytest.raises(ValidationError, match="chain_port"):
        load_settings(chain_port=70000)
    with pytest.raises(ValidationError, match="not a valid domain name"):
        load_settings(domains=("Medicine!",))
    with pytest.raises(ValidationError, match="extra"):
        load_settings(chian_port=1)
