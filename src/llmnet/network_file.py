"""A local network of any shape, described in a file: ``llmnet up --config network.toml``.

    plan = read_network_file(Path("network.toml"))
    Network(settings, NetworkOptions(**plan.options()))   # what `llmnet up --config` starts

The file (TOML) has a ``[coordinator]``, a ``[validators]`` and a ``[ports]`` section and one
``[[respondents]]`` table per respondent (see :mod:`llmnet.respondent_plan`); everything left out
takes llmnet's default. The built-in network is such a file, shipped as ``llmnet/data/network.toml``
(its comments list every field). Relative paths are read from the file's folder; a knowledge folder
not found there may name one of the folders llmnet ships. A mistake is a :class:`ConfigError`
naming the file, the entry, the field and the fix.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal, Self, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from llmnet.data import DEFAULT_NETWORK_FILE
from llmnet.errors import ConfigError
from llmnet.respondent_plan import RespondentEntry, RespondentPlan


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
