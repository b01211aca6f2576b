"""The values a service's config file holds, each checked with a message that says what to write.

Paths are relative to the config file (``~`` is expanded); amounts are wei as an integer, or a
number with a unit (``"0.5 ETH"``, ``"300 gwei"``): TOML integers stop at about 9.2 ETH in wei.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from eth_utils.address import is_hex_address, to_checksum_address
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    model_validator,
)

from llmnet.errors import ConfigError, InputError
from llmnet.keys import PASSWORD_ENV
from llmnet.roles.config.adapter import ServedAdapter, served_adapter
from llmnet.types import check_domain_name

UNITS = {"wei": 1, "gwei": 10**9, "eth": 10**18, "ether": 10**18}
UNSPECIFIED_HOSTS = frozenset({"0.0.0.0", "::", ""})
_AMOUNT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class StrictModel(BaseModel):
    """A table of a config file: unknown fields are errors (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid")


def parse_amount(value: object) -> int:
    """Wei from ``1000``, ``"1000"``, ``"0.5 ETH"`` or ``"300 gwei"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _AMOUNT.fullmatch(value) if isinstance(value, str) else None
    unit = (match.group(2).lower() or "wei") if match else ""
    if match is None or unit not in UNITS:
        raise ValueError('not an amount: write wei as an integer, or a number and a unit, e.g. "0.5 ETH", "300 gwei"')
    try:
        wei = Decimal(match.group(1)) * UNITS[unit]
    except InvalidOperation:
        raise ValueError("not a number") from None
    if wei != wei.to_integral_value():
        raise ValueError("less than one wei is not an amount; use fewer decimals")
    return int(wei)


Amount = Annotated[int, BeforeValidator(parse_amount), Field(ge=0)]


def check_address(value: str) -> str:
    if not is_hex_address(value):
        raise ValueError("not an address: expected 0x and 40 hex digits")
    if int(value, 16) == 0:
        raise ValueError("the zero address is a placeholder: write the real address")
    return to_checksum_address(value)


Address = Annotated[str, AfterValidator(check_address)]


def _check_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValueError(f"not a URL: {what} is http://HOST:PORT or https://HOST[:PORT]")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} takes no ?query or #fragment; remove them")
    return value.rstrip("/")


def check_http_url(value: str) -> str:
    return _check_url(value, "an HTTP endpoint")


HttpUrl = Annotated[str, AfterValidator(check_http_url)]


def split_bind(value: str) -> tuple[str, int]:
    """``"0.0.0.0:8401"`` -> ("0.0.0.0", 8401); ``"[::1]:8401"`` -> ("::1", 8401)."""
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535 or "/" in value:
        raise ValueError("not a bind address: write HOST:PORT, e.g. 127.0.0.1:8401 or 0.0.0.0:8401")
    return host, int(port)


def check_bind(value: str) -> str:
    split_bind(value)
    return value


Bind = Annotated[str, AfterValidator(check_bind)]


def url_of(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def resolve_path(value: Path, info: ValidationInfo) -> Path:
    """``~`` expanded; a relative path is relative to the config file (the ``base`` in the context)."""
    path = value.expanduser()
    base = (info.context or {}).get("base")
    return path if path.is_absolute() or base is None else Path(base) / path


def _existing_dir(value: Path) -> Path:
    if not value.is_dir():
        raise ValueError(f"no folder at {value}; create it (documents as .md or .txt files) or fix the path")
    return value


def _existing_file(value: Path) -> Path:
    if not value.is_file():
        raise ValueError(f"no file at {value}; fix the path")
    return value


ConfigPath = Annotated[Path, AfterValidator(resolve_path)]
ExistingDir = Annotated[Path, AfterValidator(resolve_path), AfterValidator(_existing_dir)]
ExistingFile = Annotated[Path, AfterValidator(resolve_path), AfterValidator(_existing_file)]


def check_domain(value: str) -> str:
    try:
        return check_domain_name(value)
    except InputError as exc:
        raise ValueError(str(exc)) from None


Domain = Annotated[str, AfterValidator(check_domain)]


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError("not an environment variable name: letters, digits and '_', e.g. LLMNET_KEYSTORE_PASSWORD")
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]


class KeyConfig(StrictModel):
    """``[key]``: an encrypted keystore, and where its password comes from (an environment variable,
    by default $LLMNET_KEYSTORE_PASSWORD, or a file whose first line is the password)."""

    keystore: ExistingFile = Field(description="an Ethereum keystore (V3 JSON); `llmnet init ROLE --new-key` makes one")
    password_env: EnvName | None = None
    password_file: ExistingFile | None = None

    @model_validator(mode="after")
    def _one_password_source(self) -> KeyConfig:
        if self.password_env is not None and self.password_file is not None:
            raise ValueError("give the keystore password in password_env or in password_file, not both")
        if self.password_file is None and (self.password_env or PASSWORD_ENV) not in os.environ:
            name = self.password_env or PASSWORD_ENV
            raise ValueError(
                f"the keystore password is read from ${name}, which is not set: export {name}, "
                "or set password_file to a file holding it"
            )
        return self


def packaged_models() -> list[str]:
    from llmnet.backends.llamacpp import MODELS

    return sorted(MODELS)


def _packaged(value: str) -> str:
    if value not in packaged_models():
        raise ValueError(f"no packaged model {value!r}; use one of {packaged_models()}, or kind = 'gguf' with a path")
    return value


Threads = Annotated[int, Field(ge=1, le=512)]


class AdaptedModel(StrictModel):
    """A GGUF model, optionally with a trained expert's adapter (see llmnet.roles.config.adapter)."""

    # a GGUF LoRA adapter file, a folder `llmnet expert train` wrote, or a peft adapter folder
    adapter: ConfigPath | None = None
    mode: Literal["chat", "completion"] = "chat"  # completion: a base model, prompted with few-shot Q/A
    threads: Threads | None = None
    _served: ServedAdapter | None = PrivateAttr(default=None)

    def base_file(self) -> Path:
        raise NotImplementedError

    @model_validator(mode="after")
    def _adapter_fits(self) -> AdaptedModel:
        if self.adapter is not None:
            try:
                self._served = served_adapter(self.adapter, self.base_file())
            except ConfigError as e:
                raise ValueError(str(e)) from None
        return self

    def expert_manifest(self) -> Path | None:
        """The trained expert's expert.json, if the adapter is a training run's folder."""
        return self._served.manifest if self._served is not None else None

    def _adapted(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        options = {k: v for k, v in options.items() if v is not None}
        if self._served is None:
            return "llamacpp", options
        return self._served.options(options, self.mode if "mode" in self.model_fields_set else None)


class GgufBackend(AdaptedModel):
    """Any GGUF weights file, run in-process by llama.cpp."""

    kind: Literal["gguf"]
    path: ExistingFile
    context: int | None = Field(default=None, ge=128)

    def base_file(self) -> Path:
        return self.path

    def options(self) -> tuple[str, dict[str, Any]]:
        return self._adapted({"model_path": str(self.path), "mode": self.mode, "n_threads": self.threads,
                              "n_ctx": self.context})  # fmt: skip


class PackagedBackend(AdaptedModel):
    """A model shipped as a Python package (``smollm2``, ``gemma3-270m``), run by llama.cpp."""

    kind: Literal["packaged"]
    model: Annotated[str, AfterValidator(_packaged)] = "smollm2"

    def base_file(self) -> Path:
        from llmnet.backends.weights import MODELS

        return MODELS[self.model]()

    def options(self) -> tuple[str, dict[str, Any]]:
        return self._adapted({"model": self.model, "mode": self.mode, "n_threads": self.threads})


class OpenAIBackend(StrictModel):
    """Any OpenAI-compatible endpoint (llama.cpp's server, vLLM, Ollama, a hosted API)."""

    kind: Literal["openai"]
    base_url: HttpUrl
    model: str = Field(min_length=1)
    api_key_env: EnvName | None = None  # the environment variable holding the API key, if the server wants one
    timeout_s: float | None = Field(default=None, gt=0, le=3600)

    @model_validator(mode="after")
    def _key_is_set(self) -> OpenAIBackend:
        if self.api_key_env is not None and not os.environ.get(self.api_key_env):
            raise ValueError(f"the API key is read from ${self.api_key_env}, which is not set: export it")
        return self

    def options(self) -> tuple[str, dict[str, Any]]:
        given: dict[str, Any] = {"base_url": self.base_url, "model": self.model, "timeout_s": self.timeout_s}
        if self.api_key_env is not None:
            given["api_key"] = os.environ[self.api_key_env]
        return "openai_compat", {k: v for k, v in given.items() if v is not None}


class FakeBackendConfig(StrictModel):
    """A scripted backend that echoes the question (tests and rehearsals)."""

    kind: Literal["fake"]
    model_id: str = "fake"
    delay_s: float = Field(default=0.0, ge=0, le=60)

    def options(self) -> tuple[str, dict[str, Any]]:
        return "fake", {"model_id": self.model_id, "delay_s": self.delay_s}


BACKEND_KINDS = {
    "gguf": "a GGUF file run by llama.cpp (path = ..., adapter = a trained expert, optional)",
    "packaged": "a model shipped with llmnet (model = its name, adapter = a trained expert, optional)",
    "openai": "an OpenAI-compatible endpoint (base_url = ..., model = ...)",
    "fake": "a scripted echo, for tests",
}
BackendConfig = Annotated[
    GgufBackend | PackagedBackend | OpenAIBackend | FakeBackendConfig, Field(discriminator="kind")
]
