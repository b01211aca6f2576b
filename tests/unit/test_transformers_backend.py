"""The transformers backend refuses a bad mode, base or adapter folder before loading any weights (its
generation is held to the backend conformance suite, tests/conformance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmnet.backends import backend_names, create_backend
from llmnet.errors import BackendUnavailable, ConfigError


def test_it_is_registered_like_every_backend() -> None:
    assert "transformers" in backend_names()


def test_an_unknown_mode_is_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown transformers mode 'poetry'"):
        create_backend("transformers", mode="poetry")


def test_a_base_that_is_neither_packaged_nor_a_gguf_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="neither a packaged model"):
        create_backend("transformers", base=str(tmp_path / "missing.gguf"))


def test_a_folder_without_peft_weights_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="no peft adapter in"):
        create_backend("transformers", base="smollm2", adapter=tmp_path)


def test_prefix_is_another_name_for_the_adapter_folder(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match=f"no peft adapter in {tmp_path}"):
        create_backend("transformers", base="smollm2", prefix=tmp_path)
    with pytest.raises(ConfigError, match="give the adapter folder once"):
        create_backend("transformers", base="smollm2", prefix=tmp_path, adapter=tmp_path)
