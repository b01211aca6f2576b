"""A service's configuration in three layers: its TOML file < the environment < command-line flags.

Environment variables are ``LLMNET_<ROLE>_<FIELD>``; a field of a table joins the table with
``__``; lists and tables are written as JSON:

    LLMNET_RESPONDENT_BIND=0.0.0.0:8401
    LLMNET_RESPONDENT_PUBLIC_URL=http://203.0.113.7:8401
    LLMNET_RESPONDENT_KEY__PASSWORD_FILE=/run/secrets/respondent-password
    LLMNET_RESPONDENT_DOMAINS='["law", "general"]'
    LLMNET_COORDINATOR_TASKS__K=5

Every problem is reported with where the value came from (the file, the variable or the flag),
the field, the value, and what to write instead.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from llmnet.errors import ConfigError
from llmnet.roles.config.fields import BACKEND_KINDS
from llmnet.roles.config.services import CONFIGS, ROLES, RoleConfig

Origins = dict[tuple[str, ...], str]


def env_prefix(role: str) -> str:
    return f"LLMNET_{role.upper()}_"


def read_file(path: Path, role: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no config file {path}; write one with `llmnet init {role} --out {path}`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix that line") from None


def _env_value(name: str, text: str) -> Any:
    if not text.lstrip().startswith(("[", "{")):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f'${name} is not valid JSON ({exc}); write lists as ["a", "b"]') from None


def env_layer(role: str, env: Mapping[str, str]) -> dict[tuple[str, ...], tuple[Any, str]]:
    """``LLMNET_<ROLE>_…`` variables: field path -> (value, the variable's name)."""
    prefix = env_prefix(role)
    found: dict[tuple[str, ...], tuple[Any, str]] = {}
    for name, text in env.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            path = tuple(name[len(prefix) :].lower().split("__"))
            found[path] = (_env_value(name, text), f"${name}")
    return found


def _put(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        inner = data.get(part)
        if not isinstance(inner, dict):
            inner = data[part] = {}
        data = inner
    data[path[-1]] = value


def layered(role: str, path: Path, env: Mapping[str, str], flags: Mapping[str, Any]) -> tuple[dict[str, Any], Origins]:
    """The file's values, then the environment's over them, then the flags' over both."""
    data = read_file(path, role)
    origins: Origins = {}
    flag_layer = {(k,): (v, f"--{k.replace('_', '-')}") for k, v in flags.items() if v is not None}
    if ("dev",) in flag_layer:  # the account named on the command line replaces the file's
        data.pop("key", None)
    for layer in (env_layer(role, env), flag_layer):
        for field, (value, origin) in layer.items():
            _put(data, field, value)
            origins[field] = origin
    return data, origins


def load_role_config(
    role: str, path: Path, *, env: Mapping[str, str] = os.environ, flags: Mapping[str, Any] | None = None
) -> RoleConfig:
    """The config of ``role`` from ``path``, the environment and ``flags`` (None flags are not given)."""
    if role not in CONFIGS:
        raise ConfigError(f"no role {role!r}; use one of {', '.join(ROLES)}")
    data, origins = layered(role, path, env, flags or {})
    try:
        config = CONFIGS[role].model_validate(data, context={"base": path.resolve().parent})
    except ValidationError as exc:
        problems = [describe(e, data, origins, path, role) for e in exc.errors()]
        head = f"{len(problems)} problems in the {role} config:\n  " if len(problems) > 1 else ""
        raise ConfigError(head + "\n  ".join(problems)) from None
    config._source = str(path)
    return config


def field_path(loc: tuple[int | str, ...], data: Any) -> tuple[str, ...]:
    """The error's location as the file names it: a backend's kind, which pydantic adds, is dropped."""
    parts: list[str] = []
    for part in loc:
        if isinstance(data, dict) and part not in data and data.get("kind") == part:
            continue
        parts.append(str(part))
        data = _step(data, part)
    return tuple(parts)


def _step(data: Any, part: int | str) -> Any:
    if isinstance(data, dict):
        return data.get(part)
    if isinstance(data, list) and isinstance(part, int) and part < len(data):
        return data[part]
    return None


def origin_of(field: tuple[str, ...], origins: Origins, path: Path) -> str:
    for n in range(len(field), 0, -1):
        if field[:n] in origins:
            return origins[field[:n]]
    return str(path)


def describe(e: ErrorDetails, data: dict[str, Any], origins: Origins, path: Path, role: str) -> str:
    field = field_path(e["loc"], data)
    where, name = origin_of(field, origins, path), ".".join(field)
    message = e["msg"].removeprefix("Value error, ")
    if not field:
        return f"{where}: {message}"
    if e["type"] == "missing":
        return f"{where}: {name} is missing; add it (`llmnet init {role}` writes an example)"
    if e["type"] == "extra_forbidden":
        close = difflib.get_close_matches(field[-1], known_fields(CONFIGS[role]), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{where}: {name} is not a field of the {role} config; {hint}(`llmnet init {role}` lists them)"
    if e["type"] in ("union_tag_invalid", "union_tag_not_found"):
        kinds = "; ".join(f"{kind}: {what}" for kind, what in BACKEND_KINDS.items())
        return f"{where}: {name}.kind = {_kind(e['input'])!r} is no backend; set kind to one of {kinds}"
    shown = "" if isinstance(e["input"], dict) else f" = {e['input']!r}"
    return f"{where}: {name}{shown}: {message}"


def _kind(value: Any) -> Any:
    return value.get("kind") if isinstance(value, dict) else value


def known_fields(cls: type[BaseModel]) -> list[str]:
    """Every field name of ``cls`` and of the tables inside it."""
    names: set[str] = set()
    for name, info in cls.model_fields.items():
        names.add(name)
        for inner in _models_in(info.annotation):
            names.update(known_fields(inner))
    return sorted(names)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated, list, dict):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []
