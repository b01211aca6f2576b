"""``llmnet init ROLE`` writes a commented example that parses and validates as written, with the
values given as flags in place of its placeholders; ``llmnet serve`` refuses a bad file before it
starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmnet.cli.main import full_app
from llmnet.defaults import DEFAULT_K
from llmnet.keys import PASSWORD_ENV, load_account
from llmnet.roles.config import ROLES, load_role_config
from llmnet.roles.config.templates import DEV_ACCOUNTS

ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def init(*args: str) -> str:
    result = CliRunner().invoke(full_app(), ["init", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("role", ROLES)
def test_the_example_validates_as_written(role: str, tmp_path: Path) -> None:
    out = tmp_path / f"{role}.toml"
    assert f"llmnet serve {role} --config {out}" in init(role, "--out", str(out))
    text = out.read_text()
    assert text.startswith(f"# llmnet {role}: ") and f"dev = {DEV_ACCOUNTS[role]}\n" in text
    config = load_role_config(role, out, env={}, flags={"rpc_url": "http://127.0.0.1:18545"})  # never contacted
    spec = config.spec(31337)
    assert spec.name == role and spec.account.dev_index == DEV_ACCOUNTS[role]


def test_the_coordinators_example_shows_the_one_default_k(tmp_path: Path) -> None:
    init("coordinator", "--out", str(tmp_path / "c.toml"))
    assert f"# k = {DEFAULT_K} " in (tmp_path / "c.toml").read_text()


def test_flags_fill_in_the_placeholders(tmp_path: Path) -> None:
    out = tmp_path / "law.toml"
    init("respondent", "--out", str(out), "--name", "law-expert", "--rpc-url", "http://10.0.0.2:8545",
         "--deployment", ESCROW, "--bind", "0.0.0.0:8401", "--public-url", "http://203.0.113.7:8401")  # fmt: skip
    config = load_role_config("respondent", out, env={})
    assert (config.name, config.rpc_url, config.deployment) == ("law-expert", "http://10.0.0.2:8545", ESCROW)
    assert (config.bind, config.public_url) == ("0.0.0.0:8401", "http://203.0.113.7:8401")


def test_a_new_key_is_made_beside_the_file_and_named_in_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "operator password")
    out = tmp_path / "validator.toml"
    printed = init("validator", "--out", str(out), "--new-key")
    keystore = tmp_path / "validator-key.json"
    address = load_account(keystore=keystore, password="operator password").address
    assert address in printed
    config = load_role_config("validator", out, env={}, flags={"rpc_url": "http://127.0.0.1:18545"})
    assert config.dev is None and config.key is not None and config.key.keystore == keystore
    assert config.spec(1).account.load().address == address  # any chain: it is no development account


def test_init_refuses_to_overwrite_and_to_mix_accounts(tmp_path: Path) -> None:
    out = tmp_path / "r.toml"
    out.write_text("kept")
    result = CliRunner().invoke(full_app(), ["init", "respondent", "--out", str(out)])
    assert result.exit_code != 0 and out.read_text() == "kept"
    result = CliRunner().invoke(full_app(), ["init", "respondent", "--out", str(tmp_path / "x.toml"), "--dev", "1",
                                             "--keystore", str(out)])  # fmt: skip
    assert result.exit_code != 0 and not (tmp_path / "x.toml").exists()


def test_serve_refuses_a_bad_file_before_starting(tmp_path: Path) -> None:
    bad = tmp_path / "r.toml"
    bad.write_text('dev = 1\nrpc_url = "http://127.0.0.1:18545"\n[backend]\nkind = "gpt5"\n')
    result = CliRunner().invoke(full_app(), ["serve", "respondent", "--config", str(bad)])
    assert result.exit_code != 0
    assert "backend.kind = 'gpt5' is no backend" in str(result.exception)
