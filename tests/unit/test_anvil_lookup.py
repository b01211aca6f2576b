"""Where llmnet finds anvil: $LLMNET_ANVIL, npm's package here or above or global, then PATH; never the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmnet.chain.node import find_anvil
from llmnet.errors import ConfigError

PACKAGE = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No $LLMNET_ANVIL, a PATH with nothing on it, and a working directory outside the repository."""
    monkeypatch.delenv("LLMNET_ANVIL", raising=False)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    (tmp_path / "project" / "sub").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "project" / "sub")
    return tmp_path


def test_the_npm_package_is_found_in_a_folder_above_the_working_directory(bare: Path) -> None:
    anvil = executable(bare / "project" / PACKAGE)
    assert find_anvil() == str(anvil)


def test_the_npm_package_comes_before_anvil_on_path(bare: Path) -> None:
    executable(bare / "bin" / "anvil")
    anvil = executable(bare / "project" / "sub" / PACKAGE)
    assert find_anvil() == str(anvil)


def test_npms_global_folder_is_asked_of_npm(bare: Path) -> None:
    modules = bare / "npm-prefix" / "lib" / "node_modules"
    anvil = executable(modules.parent / PACKAGE)
    executable(bare / "bin" / "npm", f"#!/bin/sh\n[ \"$1 $2\" = 'root -g' ] && echo {modules}\n")
    assert find_anvil() == str(anvil)


def test_anvil_on_path_is_the_last_place_looked(bare: Path) -> None:
    anvil = executable(bare / "bin" / "anvil")
    assert find_anvil() == str(anvil)


def test_llmnet_anvil_comes_first(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executable(bare / "project" / PACKAGE)
    mine = executable(bare / "tools" / "anvil")
    monkeypatch.setenv("LLMNET_ANVIL", str(mine))
    assert find_anvil() == str(mine)
    monkeypatch.setenv("LLMNET_ANVIL", str(bare / "tools" / "missing"))
    with pytest.raises(ConfigError, match="does not exist or is not executable"):
        find_anvil()


def test_without_anvil_the_error_says_how_to_install_it(bare: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        find_anvil()
    for fragment in ("npm install @foundry-rs/anvil", "npm install -g @foundry-rs/anvil", "LLMNET_ANVIL=", "--rpc-url"):
        assert fragment in str(caught.value)
