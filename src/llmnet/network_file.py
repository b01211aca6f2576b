"""A local network of any shape, described in a file: ``llmnet up --config network.toml``.

    plan = read_network_file(Path("network.toml"))
    Network(settings, NetworkOptions(**plan.options()))   # what `llmnet up --config` starts

The file (TOML) has a ``[coordinator]``, a ``[validators]`` and a ``[ports]`` section and one
``[[respondents]]`` table per respondent; everything left out takes llmnet's default. The built-in
network is such a file, shipped as ``llmnet/data/network.toml`` (its comments list every field).
Relative paths are read from the file's folder; a knowledge folder not found there may name one of
the folders llmnet ships. A mistake is a :class:`ConfigError` naming the file, the entry, the field
and the fix.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from llmnet.data import DEFAULT_NETWORK_FILE, shipped_knowledge
from llmnet.errors import ConfigError
from llmnet.types import check_domain_name

MODEL_THREADS = 1  # one thread per model: several models share two cores, and oversubscription slows them all
DEFAULT_MODEL = "smollm2"  # what a llamacpp respondent runs when it names no model
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class RespondentPlan:
    name: str
    domains: tuple[str, ...]
    knowledge: str | None = None  # folder under the network's knowledge_root (or an absolute path)
    description: str = ""  # its domains' description on their cards (built-in domains have one)
    backend: str = "llamacpp"
    licence: str = "Apache-2.0"
    version: str = "SmolLM2-135M-Instruct Q4_1"
    options: dict[str, Any] = field(default_factory=lambda: {"n_threads": MODEL_THREADS})


def _folder(info: ValidationInfo) -> Path:
    """The folder relative paths are read from: the network file's."""
    return Path((info.context or {}).get("folder", Path.cwd()))


class RespondentEntry(BaseModel):
    """One ``[[respondents]]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    domains: list[str] = Field(min_length=1)
    knowledge: str | None = None  # a folder of .md/.txt documents: the respondent answers from it
    description: str | None = None  # the card of the domains it creates
    backend: str = RespondentPlan.backend
    model: str | None = None  # llamacpp: a packaged model; openai_compat: the server's model name
    gguf: Path | None = None  # llamacpp: any GGUF weights file
    mode: Literal["chat", "completion"] | None = None  # llamacpp: completion for base models
    threads: int | None = Field(default=None, ge=1, le=256)  # llamacpp
    url: str | None = None  # openai_compat: the server's OpenAI base URL
    api_key_env: str | None = None  # openai_compat: the environment variable holding its API key
    licence: str | None = None
    version: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)  # passed to the backend as they are

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a usable name; use letters, digits, '-', '_' or '.' (at most 64)")
        return value

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        for name in value:
            check_domain_name(name)
        if len(set(value)) < len(value):
            raise ValueError(f"{value} names a domain twice; name each once")
        return value

    @field_validator("backend")
    @classmethod
    def _backend(cls, value: str) -> str:
        from llmnet.backends import backend_names

        if value not in backend_names():
            raise ValueError(f"unknown backend {value!r}; use one of {', '.join(backend_names())}")
        return value

    @field_validator("knowledge")
    @classmethod
    def _knowledge(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else knowledge_folder(value, _folder(info))

    @field_validator("gguf")
    @classmethod
    def _gguf(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = (_folder(info) / value.expanduser()).resolve()
        if not path.is_file():
            raise ValueError(f"no file at {path}; give the path of a GGUF weights file")
        return path

    @field_validator("api_key_env")
    @classmethod
    def _api_key_env(cls, value: str | None) -> str | None:
        if value is not None and not os.environ.get(value):
            raise ValueError(f"the environment variable {value} is not set; export the server's API key in it")
        return value

    @model_validator(mode="after")
    def _fields_of_its_backend(self) -> Self:
        given = {name for name in ("gguf", "mode", "threads", "url", "api_key_env") if getattr(self, name) is not None}
        allowed = {"llamacpp": {"gguf", "mode", "threads"}, "openai_compat": {"url", "api_key_env"}}
        stray = given - allowed.get(self.backend, set())
        if stray:
            raise ValueError(f"{', '.join(sorted(stray))}: not for backend {self.backend!r} (they do not apply to "
                             "it); remove them or change backend")  # fmt: skip
        if self.backend == "llamacpp" and self.gguf is not None and self.model is not None:
            raise ValueError("give either gguf (a weights file) or model (a packaged model), not both")
        if self.backend == "llamacpp" and self.model is not None and self.model not in packaged_models():
            raise ValueError(f"llmnet packages no model {self.model!r}; use one of {', '.join(packaged_models())} "
                             "or give gguf = the path of a weights file")  # fmt: skip
        if self.backend == "openai_compat" and (self.url is None or self.model is None):
            raise ValueError("backend 'openai_compat' needs url (the server's /v1 base URL) and model (its name)")
        if self.model is not None and self.backend not in allowed:
            raise ValueError(f"model does not apply to backend {self.backend!r}; give its options in `options`")
        return self

    def backend_options(self) -> dict[str, Any]:
        """What the backend is created with: the fields of this entry, then ``options``."""
        if self.backend == "llamacpp":
            built: dict[str, Any] = {"n_threads": self.threads or MODEL_THREADS}
            built |= {"model": self.model} if self.model else {}
            built |= {"model_path": str(self.gguf)} if self.gguf else {}
            built |= {"mode": self.mode} if self.mode else {}
        elif self.backend == "openai_compat":
            built = {"base_url": self.url, "model": self.model}
            built |= {"api_key": os.environ[self.api_key_env]} if self.api_key_env else {}
        else:
            built = {}
        return built | self.options

    def plan(self) -> RespondentPlan:
        extra = {name: getattr(self, name) for name in ("knowledge", "description") if getattr(self, name)}
        return RespondentPlan(self.name, tuple(self.domains), backend=self.backend, options=self.backend_options(),
                              **extra, **self._model_card())  # fmt: skip

    def _model_card(self) -> dict[str, str]:
        """Licence and version as given; for a model other than the packaged default, unknown licence
        and the model's name as version unless given."""
        default_model = self.backend == "llamacpp" and self.gguf is None and self.model in (None, DEFAULT_MODEL)
        named = self.model or (self.gguf.name if self.gguf else self.backend)
        card = {} if default_model else {"licence": "", "version": named}
        return card | {name: getattr(self, name) for name in ("licence", "version") if getattr(self, name) is not None}


def packaged_models() -> list[str]:
    from llmnet.backends.llamacpp import MODELS  # names only: no weights are loaded

    return sorted(MODELS)


def knowledge_folder(value: str, folder: Path) -> str:
    """A knowledge folder as a respondent plan names it: an absolute path, or the name of a shipped one."""
    path = (folder / Path(value).expanduser()).resolve()
    if path.is_dir():
        return str(path)
    if value in shipped_knowledge():
        return value
    raise ValueError(f"no folder {path}, and llmnet ships no knowledge folder {value!r} (it ships "
                     f"{', '.join(shipped_knowledge())}); give a folder of .md/.txt documents")  # fmt: skip


def _within_limits(section: BaseModel, source: type[BaseModel], names: tuple[str, ...]) -> None:
    """Check the fields ``names`` given in ``section`` against their limits in ``source``, the spec they
    end up in (the one home of those limits)."""
    for name in sorted(section.model_fields_set & set(names)):
        value = getattr(section, name)
        definition: dict[str, Any] = {name: (source.model_fields[name].annotation, source.model_fields[name])}
        check = create_model("Check", **definition)
        try:
            check.model_validate({name: value})
        except ValidationError as exc:
            raise ValueError(f"{name} = {value!r}: {exc.errors()[0]['msg']}; change {name}") from None


class CoordinatorSection(BaseModel):
    """The ``[coordinator]`` table: how questions are answered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int | None = None
    rounds: int | None = None
    policy: str | None = None
    collaboration: Literal["adaptive", "fixed"] | None = None
    max_tokens: int | None = None
    fee_per_respondent_wei: int | None = Field(default=None, gt=0)
    gold_rate: float | None = None
    seed: int | None = None
    respondent_timeout_s: float | None = None
    rating_timeout_s: float | None = None

    @field_validator("policy")
    @classmethod
    def _policy(cls, value: str | None) -> str | None:
        from llmnet.reputation.selection import policy_names

        if value is not None and value not in policy_names():
            raise ValueError(f"unknown selection policy {value!r}; use one of {', '.join(policy_names())}")
        return value

    @model_validator(mode="after")
    def _limits(self) -> Self:
        from llmnet.api.openai_app import CoordinatorSpec

        limited = ("k", "rounds", "max_tokens", "gold_rate", "respondent_timeout_s", "rating_timeout_s")
        _within_limits(self, CoordinatorSpec, limited)
        return self

    def options(self) -> dict[str, Any]:
        from llmnet.roles.peers import PeerDeadlines

        given = self.model_dump(exclude_none=True)
        deadlines = {name: given.pop(name) for name in list(given) if name in PeerDeadlines.model_fields}
        return given | ({"deadlines": PeerDeadlines(**deadlines)} if deadlines else {})


class ValidatorsSection(BaseModel):
    """The ``[validators]`` table: how many, and how they judge."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int | None = Field(default=None, ge=0, le=64)
    judge: str | None = None  # every validator's judge kind
    judges: list[dict[str, Any]] = Field(default_factory=list)  # per validator, what differs from ``judge``
    rate: bool | None = None
    spot_check_rate: float | None = None
    ranking_weight: float | None = None

    @field_validator("judge")
    @classmethod
    def _judge(cls, value: str | None) -> str | None:
        return None if value is None else _judge_kind(value)

    @field_validator("judges")
    @classmethod
    def _judges(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from llmnet.roles.validator import JudgeSpec

        for i, judge in enumerate(value):
            stray = set(judge) - set(JudgeSpec.model_fields)
            if stray:
                raise ValueError(f"judges[{i}] has no field {', '.join(sorted(stray))}; "
                                 f"a judge has {', '.join(JudgeSpec.model_fields)}")  # fmt: skip
            if "kind" in judge:
                _judge_kind(judge["kind"])
        return value

    @model_validator(mode="after")
    def _limits(self) -> Self:
        from llmnet.roles.validator import ValidatorSpec

        _within_limits(self, ValidatorSpec, ("spot_check_rate", "ranking_weight"))
        if self.count is not None and len(self.judges) > self.count:
            raise ValueError(f"judges names {len(self.judges)} validators but count is {self.count}; "
                             "raise count or drop judges")  # fmt: skip
        return self

    def options(self) -> dict[str, Any]:
        given = self.model_dump(exclude_none=True, exclude={"count", "judges"})
        given |= {"validators": self.count} if self.count is not None else {}
        return given | ({"validator_judges": tuple(self.judges)} if self.judges else {})


def _judge_kind(kind: object) -> str:
    from llmnet.roles.validator import JUDGE_KINDS

    if kind not in JUDGE_KINDS:
        raise ValueError(f"unknown judge {kind!r}; use one of {', '.join(JUDGE_KINDS)}")
    return str(kind)


class PortsSection(BaseModel):
    """The ``[ports]`` table, on 127.0.0.1: respondents and validators take consecutive ports from theirs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coordinator: int | None = Field(default=None, ge=1, le=65535)
    respondents: int | None = Field(default=None, ge=1, le=65535)
    validators: int | None = Field(default=None, ge=1, le=65535)

    def options(self) -> dict[str, Any]:
        names = {"coordinator": "coordinator_port", "respondents": "respondent_base_port",
                 "validators": "validator_base_port"}  # fmt: skip
        return {names[name]: port for name, port in self.model_dump(exclude_none=True).items()}


class NetworkFile(BaseModel):
    """A whole ``network.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coordinator: CoordinatorSection = Field(default_factory=lambda: CoordinatorSection())
    validators: ValidatorsSection = Field(default_factory=lambda: ValidatorsSection())
    ports: PortsSection = Field(default_factory=lambda: PortsSection())
    respondents: list[RespondentEntry] | None = None  # None: the built-in respondents

    @field_validator("respondents")
    @classmethod
    def _some(cls, value: list[RespondentEntry] | None) -> list[RespondentEntry] | None:
        if value is not None and not value:
            raise ValueError("is empty; give at least one [[respondents]] table, or none for the built-in ones")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        names = [r.name for r in self.respondents or []]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"respondents: the name {twice[0]!r} is used twice; give each respondent its own name")
        taken = [name for name in names if name == "coordinator" or re.fullmatch(r"validator-\d+", name)]
        if taken:
            raise ValueError(f"respondents: the name {taken[0]!r} is the coordinator's or a validator's; "
                             "give the respondent another name")  # fmt: skip
        return self

    def options(self) -> dict[str, Any]:
        """Keyword arguments of :class:`llmnet.launcher.NetworkOptions`: only what the file gives."""
        plans = {"respondents": tuple(r.plan() for r in self.respondents)} if self.respondents else {}
        return self.coordinator.options() | self.validators.options() | self.ports.options() | plans

    @property
    def plans(self) -> tuple[RespondentPlan, ...]:
        return tuple(r.plan() for r in self.respondents or [])


def read_network_file(path: Path) -> NetworkFile:
    """The network ``path`` describes, checked; every mistake is a ConfigError naming where it is."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no network file at {path}; give an existing file to --config, or copy the "
                          f"built-in network from {DEFAULT_NETWORK_FILE}") from None  # fmt: skip
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the network file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix that line") from None
    try:
        return NetworkFile.model_validate(raw, context={"folder": path.resolve().parent})
    except ValidationError as exc:
        raise ConfigError("\n".join(describe(path, raw, problem) for problem in exc.errors())) from None


_SECTIONS: dict[str, type[BaseModel]] = {"coordinator": CoordinatorSection, "validators": ValidatorsSection,
                                          "ports": PortsSection, "respondents": RespondentEntry}  # fmt: skip


def describe(path: Path, raw: dict[str, Any], problem: Any) -> str:
    """One validation problem as ``FILE: [entry] field: what is wrong; the fix``."""
    loc = list(problem["loc"])
    where, model = "", cast(type[BaseModel], NetworkFile)
    if loc and loc[0] in _SECTIONS:
        section = loc.pop(0)
        where, model = f"[{section}]", _SECTIONS[section]
        if section == "respondents" and loc and isinstance(loc[0], int):
            index = loc.pop(0)
            entry = raw["respondents"][index]
            name = entry.get("name") if isinstance(entry, dict) else None
            where = f"respondents[{index}]" + (f" ({name!r})" if isinstance(name, str) else "")
    at = " ".join(filter(None, (where, ".".join(str(part) for part in loc))))
    message = str(problem["msg"]).removeprefix("Value error, ")
    return f"{path}: {at + ': ' if at else ''}{message}{_fix(problem['type'], model)}"


def _fix(kind: str, model: type[BaseModel]) -> str:
    if kind == "missing":
        return "; add it"
    if kind == "extra_forbidden":
        return f"; remove it or correct its spelling (known here: {', '.join(model.model_fields)})"
    if kind.endswith(("_type", "_parsing")):
        return "; give a value of that type"
    return ""


def default_plans() -> tuple[RespondentPlan, ...]:
    """The respondents of the built-in network (``llmnet/data/network.toml``)."""
    return read_network_file(DEFAULT_NETWORK_FILE).plans
