"""A role's config file: layered (file < LLMNET_<ROLE>_ variables < flags), typed, turned into the
spec its service runs from, and every mistake reported with where it came from, the field, the
value and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmnet.api.openai_app import CoordinatorSpec
from llmnet.defaults import DEFAULT_ROUNDS, MAX_K
from llmnet.errors import ConfigError, KeystoreError
from llmnet.keys import PASSWORD_ENV, create_keystore
from llmnet.roles.config import (
    CoordinatorConfig,
    RespondentConfig,
    ValidatorConfig,
    load_role_config,
)
from llmnet.roles.respondent import RespondentSpec
from llmnet.roles.validator import ValidatorSpec
from llmnet.types import ETHER

FAST: dict[str, Any] = {"kdf": "pbkdf2", "kdf_iterations": 16}
RPC = 'rpc_url = "http://127.0.0.1:18545"\n'  # never contacted: building a spec reads no chain
ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def write(tmp_path: Path, text: str, name: str = "role.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load(role: str, path: Path, env: dict[str, str] | None = None, **flags: Any) -> Any:
    return load_role_config(role, path, env=env or {}, flags=flags)


def problem(role: str, path: Path, env: dict[str, str] | None = None, **flags: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load(role, path, env, **flags)
    return str(caught.value)


# ------------------------------------------------------------------ layers


def test_the_environment_wins_over_the_file_and_the_flags_over_both(tmp_path: Path) -> None:
    path = write(tmp_path, RPC + 'dev = 3\nbind = "127.0.0.1:9001"\ndomains = ["law"]\n')
    assert load("respondent", path).bind == "127.0.0.1:9001"
    env = {"LLMNET_RESPONDENT_BIND": "127.0.0.1:9002", "LLMNET_RESPONDENT_DOMAINS": '["law", "general"]'}
    from_env = load("respondent", path, env)
    assert from_env.bind == "127.0.0.1:9002" and from_env.domains == ["law", "general"]
    flagged = load("respondent", path, env, bind="127.0.0.1:9003", rpc_url=None)
    assert flagged.bind == "127.0.0.1:9003" and flagged.rpc_url == "http://127.0.0.1:18545"


def test_a_tables_field_comes_from_a_variable_joined_with_two_underscores(tmp_path: Path) -> None:
    path = write(tmp_path, RPC + "dev = 17\n[tasks]\nk = 2\n")
    config = load("coordinator", path, {"LLMNET_COORDINATOR_TASKS__K": "5", "LLMNET_VALIDATOR_DEV": "1"})
    assert isinstance(config, CoordinatorConfig)
    assert config.tasks.k == 5 and config.tasks.rounds == DEFAULT_ROUNDS and config.dev == 17


def test_a_dev_flag_replaces_the_files_keystore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    create_keystore(tmp_path / "k.json", "pw", **FAST)
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    path = write(tmp_path, RPC + '[key]\nkeystore = "k.json"\n')
    assert load("validator", path).key is not None
    flagged = load("validator", path, dev=16)
    assert flagged.key is None and flagged.spec(31337).account.dev_index == 16


# ------------------------------------------------------------------ specs


def test_a_respondent_config_becomes_its_spec(tmp_path: Path) -> None:
    (tmp_path / "law").mkdir()
    path = write(tmp_path, RPC + f'deployment = "{ESCROW.lower()}"\ndev = 15\nname = "law-expert"\n'
                 'bind = "0.0.0.0:8401"\npublic_url = "http://203.0.113.7:18401/"\ndomains = ["law"]\n'
                 'knowledge = "law"\nstake = "0.5 ETH"\n'
                 '[backend]\nkind = "gguf"\npath = "model.gguf"\nmode = "completion"\nthreads = 3\n'
                 '[model]\nid = "my-law-model"\nversion = "v2"\nlicence = "MIT"\n')  # fmt: skip
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    config = load("respondent", path)
    assert isinstance(config, RespondentConfig) and config.deployment == ESCROW  # checksummed
    spec = config.spec(31337)
    assert isinstance(spec, RespondentSpec)
    assert (spec.name, spec.host, spec.port, spec.url) == ("law-expert", "0.0.0.0", 8401, "http://203.0.113.7:18401")
    assert spec.stake_wei == ETHER // 2 and spec.domains == ["law"] and spec.account.dev_index == 15
    assert (spec.licence, spec.model_version, spec.backend.model_id) == ("MIT", "v2", "my-law-model")
    assert spec.backend.kind == "llamacpp" and spec.backend.knowledge == tmp_path / "law"
    assert spec.backend.options == {"model_path": str(tmp_path / "model.gguf"), "mode": "completion", "n_threads": 3}
    assert spec.chain.rpc_url == "http://127.0.0.1:18545"


def test_what_the_file_leaves_out_keeps_the_specs_default(tmp_path: Path) -> None:
    path = write(tmp_path, RPC + "dev = 15\n")
    spec = load("respondent", path).spec(31337)
    default = RespondentSpec.model_fields
    assert spec.stake_wei == default["stake_wei"].default and spec.licence == default["licence"].default
    assert spec.url == "http://127.0.0.1:8470" and spec.domains == ["general"]
    assert spec.backend.options == {"model": "smollm2", "mode": "chat"}


def test_an_openai_compatible_backend_takes_its_key_from_the_named_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SERVER_KEY", "sk-secret")
    path = write(tmp_path, RPC + 'dev = 15\n[backend]\nkind = "openai"\nbase_url = "http://127.0.0.1:8080/v1"\n'
                 'model = "qwen2.5"\napi_key_env = "MY_SERVER_KEY"\n')  # fmt: skip
    backend = load("respondent", path).spec(31337).backend
    assert backend.kind == "openai_compat"
    assert backend.options == {"base_url": "http://127.0.0.1:8080/v1", "model": "qwen2.5", "api_key": "sk-secret"}


def test_a_validator_config_becomes_its_spec(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    path = write(tmp_path, RPC + 'dev = 16\nsettler = true\nstake = "300000000 gwei"\nspot_check_rate = 0.1\n'
                 f'validators = ["{ESCROW}"]\n[judge]\nkind = "llm"\ncorpora = {{ law = "docs" }}\n'
                 '[judge.backend]\nkind = "packaged"\nmodel = "gemma3-270m"\nmode = "completion"\n')  # fmt: skip
    config = load("validator", path)
    assert isinstance(config, ValidatorConfig)
    spec = config.spec(1337)
    assert isinstance(spec, ValidatorSpec) and spec.settler and spec.validators == [ESCROW]
    assert spec.stake_wei == 3 * ETHER // 10 and spec.spot_check_rate == 0.1 and spec.url == "http://127.0.0.1:8570"
    assert spec.judge.kind == "llm" and spec.judge.corpora == {"law": tmp_path / "docs"}
    assert spec.judge.backend.options == {"model": "gemma3-270m", "mode": "completion"}


def test_a_coordinator_config_becomes_its_spec(tmp_path: Path) -> None:
    path = write(tmp_path, RPC + 'dev = 17\npolicy = "ucb"\nfee_per_respondent = "20000 gwei"\n'
                 'validators = ["http://10.0.0.3:8570/"]\nstake = "0.3 ETH"\nask_validators = false\n'
                 '[tasks]\nk = 4\nrating_timeout_s = 7\n')  # fmt: skip
    spec = load("coordinator", path).spec(31337)
    assert isinstance(spec, CoordinatorSpec)
    assert (spec.policy, spec.fee_per_respondent_wei, spec.k, spec.rating_timeout_s) == ("ucb", 2 * 10**13, 4, 7)
    assert spec.validators == ["http://10.0.0.3:8570"] and spec.settler_url is None
    assert spec.stake_wei == 3 * ETHER // 10 and not spec.ask_validators


def test_a_keystore_with_its_password_in_a_file_loads(tmp_path: Path) -> None:
    address = create_keystore(tmp_path / "k.json", "s3cret", **FAST)
    (tmp_path / "pw").write_text("s3cret\n")
    path = write(tmp_path, RPC + '[key]\nkeystore = "k.json"\npassword_file = "pw"\n')
    account = load("respondent", path).spec(1).account  # a keystore is fine on any chain
    assert account.load().address == address


def test_a_keystore_with_its_password_in_a_named_variable_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = create_keystore(tmp_path / "k.json", "s3cret", **FAST)
    monkeypatch.setenv("RESPONDENT_PW", "s3cret")
    path = write(tmp_path, RPC + '[key]\nkeystore = "k.json"\npassword_env = "RESPONDENT_PW"\n')
    spec = load("respondent", path).spec(1)
    monkeypatch.delenv("RESPONDENT_PW")
    with pytest.raises(KeystoreError, match=r"\$RESPONDENT_PW, which is not set"):
        spec.account.load()
    monkeypatch.setenv("RESPONDENT_PW", "s3cret")
    assert spec.account.load().address == address


# ------------------------------------------------------------------ mistakes


def test_a_missing_keystore_is_named_with_its_field_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    path = write(tmp_path, RPC + '[key]\nkeystore = "nowhere.json"\n')
    message = problem("respondent", path)
    assert str(path) in message and "key.keystore" in message and f"no file at {tmp_path / 'nowhere.json'}" in message


def test_a_password_source_that_is_not_there_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    create_keystore(tmp_path / "k.json", "pw", **FAST)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    unset = write(tmp_path, RPC + '[key]\nkeystore = "k.json"\npassword_env = "NOT_SET_ANYWHERE"\n', "a.toml")
    assert "$NOT_SET_ANYWHERE, which is not set: export NOT_SET_ANYWHERE" in problem("respondent", unset)
    default = write(tmp_path, RPC + '[key]\nkeystore = "k.json"\n', "b.toml")
    assert f"${PASSWORD_ENV}, which is not set" in problem("respondent", default)
    missing = write(tmp_path, RPC + '[key]\nkeystore = "k.json"\npassword_file = "no-such-file"\n', "c.toml")
    assert "key.password_file" in problem("respondent", missing)
    (tmp_path / "pw").write_text("pw")
    both = write(tmp_path, RPC + '[key]\nkeystore = "k.json"\npassword_file = "pw"\npassword_env = "X"\n', "d.toml")
    assert "not both" in problem("respondent", both)


def test_a_development_account_is_refused_off_a_development_chain(tmp_path: Path) -> None:
    config = load("respondent", write(tmp_path, RPC + "dev = 3\n"))
    with pytest.raises(ConfigError, match=r"dev = 3 is a development account.*chain 1 is not a local development"):
        config.spec(1)
    assert config.spec(31337).account.dev_index == 3


def test_an_account_is_required_and_only_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "no account: add a [key] table" in problem("validator", write(tmp_path, RPC, "a.toml"))
    create_keystore(tmp_path / "k.json", "pw", **FAST)
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    both = write(tmp_path, RPC + 'dev = 2\n[key]\nkeystore = "k.json"\n', "b.toml")
    assert "both dev and [key] are set" in problem("validator", both)


def test_a_bad_url_names_where_it_came_from(tmp_path: Path) -> None:
    path = write(tmp_path, 'rpc_url = "127.0.0.1:8545"\ndev = 1\n')
    message = problem("respondent", path)
    assert f"{path}: rpc_url = '127.0.0.1:8545': not a URL" in message and "http://HOST:PORT" in message
    fine = write(tmp_path, RPC + "dev = 1\n", "fine.toml")
    from_env = problem("respondent", fine, {"LLMNET_RESPONDENT_PUBLIC_URL": "ftp://x"})
    assert from_env.startswith("$LLMNET_RESPONDENT_PUBLIC_URL: public_url = 'ftp://x': not a URL")
    assert problem("respondent", fine, public_url="http://h:99999").startswith("--public-url: public_url")
    assert "--bind: bind = 'nohost'" in problem("respondent", fine, bind="nohost")


def test_listening_everywhere_needs_a_public_url(tmp_path: Path) -> None:
    path = write(tmp_path, RPC + 'dev = 1\nbind = "0.0.0.0:8401"\n')
    assert "set public_url to the URL they reach this service at" in problem("respondent", path)


def test_an_unknown_backend_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, RPC + 'dev = 1\n[backend]\nkind = "gpt5"\n')
    message = problem("respondent", path)
    assert "backend.kind = 'gpt5' is no backend" in message
    assert all(kind in message for kind in ("gguf:", "packaged:", "openai:"))
    packaged = write(tmp_path, RPC + 'dev = 1\n[backend]\nkind = "packaged"\nmodel = "llama-70b"\n', "p.toml")
    assert "backend.model = 'llama-70b': no packaged model" in problem("respondent", packaged)


def test_a_missing_knowledge_folder_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, RPC + 'dev = 1\nknowledge = "docs/law"\n')
    assert f"knowledge = 'docs/law': no folder at {tmp_path / 'docs' / 'law'}" in problem("respondent", path)


def test_a_misspelt_field_gets_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, RPC + 'dev = 1\ndomain = ["law"]\n')
    assert "domain is not a field of the respondent config; did you mean 'domains'?" in problem("respondent", path)


def test_limits_are_the_specs(tmp_path: Path) -> None:
    too_many = write(tmp_path, RPC + f"dev = 1\n[tasks]\nk = {MAX_K + 1}\n", "k.toml")
    assert f"tasks.k = {MAX_K + 1}: Input should be less than or equal to {MAX_K}" in problem("coordinator", too_many)
    rate = write(tmp_path, RPC + "dev = 1\nspot_check_rate = 2\n", "rate.toml")
    with pytest.raises(ConfigError, match=rf"{rate}: spot_check_rate = 2\.0: Input should be less than or equal to 1"):
        load("validator", rate).spec(31337)
    amount = write(tmp_path, RPC + 'dev = 1\nstake = "1.5 wei"\n', "stake.toml")
    assert "stake = '1.5 wei': less than one wei" in problem("respondent", amount)


def test_a_file_that_is_not_there_or_not_toml_is_reported(tmp_path: Path) -> None:
    assert "llmnet init validator --out" in problem("validator", tmp_path / "none.toml")
    assert "is not valid TOML" in problem("validator", write(tmp_path, "dev = = 1\n"))
