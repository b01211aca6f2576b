"""Typed, layered configuration: defaults < config file < environment < flags.

The file is ``$LLMNET_CONFIG`` or ``<data_dir>/config.toml``; environment
variables are ``LLMNET_<FIELD>`` (``LLMNET_RPC_URL``, ``LLMNET_DATA_DIR``...);
the CLI passes flags as keyword arguments, which win over everything.
Every field has a default that runs on a laptop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from llmnet.chain.deploy import DeployParams
from llmnet.chain.retention import ChainRetention
from llmnet.types import check_domain_name

DEFAULT_DOMAINS = ("general", "medicine", "law", "astronomy", "code")
DEPLOY = DeployParams()


def default_data_dir() -> Path:
    return Path(os.environ.get("LLMNET_DATA_DIR", Path.home() / ".llmnet"))


def _config_file() -> Path:
    explicit = os.environ.get("LLMNET_CONFIG")
    return Path(explicit) if explicit else default_data_dir() / "config.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMNET_", extra="forbid", validate_default=True)

    data_dir: Path = Field(default_factory=default_data_dir, description="where llmnet keeps its state")
    rpc_url: str | None = Field(None, description="an Ethereum JSON-RPC node; unset = the embedded node")
    chain_port: int = Field(8645, ge=1, le=65535, description="port of the embedded node on 127.0.0.1")
    anvil_path: str | None = Field(None, description="path of the anvil binary for the embedded node")
    chain_retention: ChainRetention = Field(
        default_factory=lambda: ChainRetention(),
        description="history the embedded node keeps (see llmnet.chain.retention)",
    )
    # the contracts' parameters at deploy time; their defaults are DeployParams'
    min_stake_wei: int = Field(DEPLOY.min_stake, gt=0, description="minimum provider stake at deploy time")
    unstake_cooldown_s: int = Field(DEPLOY.cooldown, ge=0, description="unstake cooldown at deploy time")
    reputation_decay: float = Field(DEPLOY.decay, gt=0.0, le=1.0, description="per-observation decay")
    domains: tuple[str, ...] = Field(DEFAULT_DOMAINS, description="domains created at deploy time")

    @field_validator("domains")
    @classmethod
    def _check_domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            check_domain_name(name)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)

    @property
    def chain_dir(self) -> Path:
        return self.data_dir / "chain"

    @property
    def deployments_file(self) -> Path:
        return self.data_dir / "deployments.json"

    @property
    def outbox_file(self) -> Path:
        return self.data_dir / "outbox.sqlite"

    @property
    def store_file(self) -> Path:
        return self.data_dir / "store.sqlite"


def load_settings(**overrides: Any) -> Settings:
    """Settings with ``overrides`` (flags) on top; None values are ignored."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
