"""One respondent of a local network: its plan (what the launcher starts) and its ``[[respondents]]``
entry in a network file (see :mod:`llmnet.network_file`), checked and turned into a plan.

    RespondentPlan("law-expert", ("law",), "law")                         # the shipped law folder
    RespondentEntry.model_validate({"name": "x", "domains": ["general"], "knowledge": "notes"},
                                   context={"folder": Path("/srv/net")}).plan()
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from llmnet.data import shipped_knowledge
from llmnet.errors import ConfigError
from llmnet.roles.config.adapter import ServedAdapter, served_adapter
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
    expert: Path | None = None  # a trained expert's manifest (expert.json), served at GET /v1/expert


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
    # llamacpp: a trained expert on that model — a folder `llmnet expert train` wrote, a GGUF LoRA adapter or a
    # peft adapter folder; a LoRA is applied by llama.cpp, a prefix-tuned expert is run by transformers
    adapter: Path | None = None
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

    @field_validator("adapter")
    @classmethod
    def _adapter(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = (_folder(info) / value.expanduser()).resolve()
        if not path.exists():
            raise ValueError(f"no adapter at {path}; give the folder `llmnet expert train` wrote (or its adapter)")
        return path

    @field_validator("api_key_env")
    @classmethod
    def _api_key_env(cls, value: str | None) -> str | None:
        if value is not None and not os.environ.get(value):
            raise ValueError(f"the environment variable {value} is not set; export the server's API key in it")
        return value

    @model_validator(mode="after")
    def _fields_of_its_backend(self) -> Self:
        fields = ("gguf", "adapter", "mode", "threads", "url", "api_key_env")
        given = {name for name in fields if getattr(self, name) is not None}
        allowed = {"llamacpp": {"gguf", "adapter", "mode", "threads"}, "openai_compat": {"url", "api_key_env"}}
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
        if self.adapter is not None:
            self.served_adapter()  # fits the base model, or the file is refused with the reason
        return self

    def served_adapter(self) -> ServedAdapter | None:
        """What ``adapter`` is and how it is served, once it is known to fit this entry's model."""
        if self.adapter is None:
            return None
        from llmnet.backends.weights import MODELS

        base = self.gguf or MODELS[self.model or DEFAULT_MODEL]()
        try:
            return served_adapter(self.adapter, base)
        except ConfigError as e:
            raise ValueError(str(e)) from None

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
        backend, options = self.backend, self.backend_options()
        served = self.served_adapter()
        if served is not None:
            backend, options = served.options(options, self.mode)
        return RespondentPlan(self.name, tuple(self.domains), backend=backend, options=options,
                              expert=served.manifest if served else None, **extra, **self._model_card())  # fmt: skip

    def _model_card(self) -> dict[str, str]:
        """Licence and version as given; for a model other than the packaged default, unknown licence
        and the model's name as version unless given."""
        default_model = (self.backend == "llamacpp" and self.gguf is None and self.adapter is None
                         and self.model in (None, DEFAULT_MODEL))  # fmt: skip
        named = self.model or (self.gguf.name if self.gguf else self.backend)
        if self.adapter is not None:  # the trained expert on its base: "smollm2+law-v2"
            named = f"{self.model or (self.gguf.name if self.gguf else DEFAULT_MODEL)}+{self.adapter.name}"
        card = {} if default_model else {"licence": self._adapter_licence(), "version": named}
        return card | {name: getattr(self, name) for name in ("licence", "version") if getattr(self, name) is not None}

    def _adapter_licence(self) -> str:
        """A trained expert's licence, from its manifest; unknown ("") for anything else."""
        served = self.served_adapter()
        if served is None or served.manifest is None:
            return ""
        from llmnet.tuning.manifest import ExpertManifest

        return ExpertManifest.load(served.manifest.parent).licence


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
