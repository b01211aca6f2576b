"""A service's config file, one class per role, each turned into the spec its service runs from.

The specs (:class:`RespondentSpec`, :class:`ValidatorSpec`, :class:`CoordinatorSpec`) keep the
defaults and limits: a field the file leaves out is not passed on, so the spec's default applies,
and a value the spec refuses is reported under the name the file uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from llmnet.api.keys import key_book_file
from llmnet.api.openai_app import CoordinatorSpec
from llmnet.api.server import HttpLimits
from llmnet.chain.network import DEV_CHAIN_IDS, chain_url
from llmnet.config import default_data_dir, load_settings
from llmnet.errors import ConfigError
from llmnet.roles.common import AccountSpec, ChainSpec
from llmnet.roles.config.fields import (
    UNSPECIFIED_HOSTS,
    AdaptedModel,
    Address,
    Amount,
    BackendConfig,
    Bind,
    ConfigPath,
    Domain,
    ExistingDir,
    ExistingFile,
    HttpUrl,
    KeyConfig,
    PackagedBackend,
    StrictModel,
    split_bind,
)
from llmnet.roles.coordinator import CoordinatorSettings
from llmnet.roles.respondent import BackendSpec, RespondentSpec
from llmnet.roles.validator import JudgeSpec, ValidatorSpec

ROLES = ("respondent", "validator", "coordinator")
# beside `llmnet up`'s services (8300, 8401 and up, 8501 and up), so one laptop can run both
DEFAULT_PORTS = {"coordinator": 8370, "respondent": 8470, "validator": 8570}
# spec field -> the name the config file gives it
FILE_NAMES = {"stake_wei": "stake", "fee_per_respondent_wei": "fee_per_respondent", "knowledge_root": "knowledge",
              "licence": "model.licence", "model_version": "model.version"}  # fmt: skip

S = TypeVar("S", bound=BaseModel)


def _given(**values: Any) -> dict[str, Any]:
    """The values the file set: the rest keep the spec's defaults."""
    return {name: value for name, value in values.items() if value is not None}


def _name(value: str) -> str:
    if not value or len(value) > 64 or not value.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValueError("a service name is 1-64 letters, digits, '-', '_' or '.', e.g. law-expert")
    return value


class ServiceConfig(StrictModel):
    """What every service's file names: who it is, which chain and deployment, where it listens."""

    role: ClassVar[str]
    name: Annotated[str, AfterValidator(_name)] | None = None  # default: the role
    rpc_url: HttpUrl | None = None  # default: $LLMNET_RPC_URL, ~/.llmnet/config.toml, else the embedded node
    deployment: Address | None = None  # the escrow; default: the deployment recorded in ~/.llmnet
    bind: Bind | None = None  # default: 127.0.0.1 and the role's port
    public_url: HttpUrl | None = None  # registered on chain; default: the bind address
    data_dir: ConfigPath | None = None
    dev: int | None = Field(default=None, ge=0, lt=2**31)
    key: KeyConfig | None = None
    http: HttpLimits = Field(default_factory=HttpLimits)
    _source: str = PrivateAttr(default="the config")

    @model_validator(mode="after")
    def _one_account(self) -> ServiceConfig:
        if self.dev is not None and self.key is not None:
            raise ValueError("both dev and [key] are set: keep [key] (a keystore), or dev = N on a local chain")
        if self.dev is None and self.key is None:
            raise ValueError(
                "no account: add a [key] table with keystore = FILE (`llmnet init --new-key` makes one), "
                "or on a local development chain dev = N (or --dev N)"
            )
        if self.listen[0] in UNSPECIFIED_HOSTS and self.public_url is None:
            raise ValueError(
                f"bind = {self.bind!r} listens on every interface, so it is no address others can reach: "
                "set public_url to the URL they reach this service at, e.g. http://203.0.113.7:8401"
            )
        return self

    @property
    def listen(self) -> tuple[str, int]:
        return split_bind(self.bind or f"127.0.0.1:{DEFAULT_PORTS[self.role]}")

    def rpc(self) -> str:
        """The RPC URL: the file's, else the one llmnet's settings name (the embedded node by default)."""
        return self.rpc_url or chain_url(load_settings())

    def account(self, chain_id: int) -> AccountSpec:
        if self.key is not None:
            k = self.key
            return AccountSpec(keystore=k.keystore, password_env=k.password_env, password_file=k.password_file)
        if chain_id not in DEV_CHAIN_IDS:
            raise ConfigError(
                f"{self._source}: dev = {self.dev} is a development account, whose key is public, and chain "
                f"{chain_id} is not a local development chain ({', '.join(map(str, sorted(DEV_CHAIN_IDS)))}); "
                "use a keystore instead: a [key] table with keystore = FILE"
            )
        return AccountSpec(dev_index=self.dev)

    def chain(self) -> ChainSpec:
        if self.deployment is not None:
            return ChainSpec.model_validate({"rpc_url": self.rpc(), "deployment": self.deployment})
        return ChainSpec(rpc_url=self.rpc(), deployments_file=load_settings().deployments_file)

    def state_dir(self) -> Path:
        """Where the service keeps its state: by default where `llmnet keys` and `llmnet up` keep theirs."""
        return self.data_dir or key_book_file(default_data_dir()).parent

    def service(self, chain_id: int) -> dict[str, Any]:
        host, port = self.listen
        return {"name": self.name or self.role, "host": host, "port": port, "public_url": self.public_url,
                "account": self.account(chain_id), "chain": self.chain(), "data_dir": self.state_dir(),
                "http": self.http}  # fmt: skip

    def build(self, cls: type[S], fields: dict[str, Any]) -> S:
        """``cls`` from ``fields``; a value it refuses is reported under the file's name for it."""
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            problems = []
            for e in exc.errors():
                field = ".".join(FILE_NAMES.get(str(p), str(p)) for p in e["loc"])
                problems.append(f"{field} = {e['input']!r}: {e['msg']}")
            raise ConfigError(f"{self._source}: " + "; ".join(problems)) from None


class ModelInfo(StrictModel):
    """``[model]``: what the respondent registers about its model."""

    id: str | None = Field(default=None, min_length=1)  # default: the backend's (GGUF file name, OpenAI model)
    version: str | None = None
    licence: str | None = None


class RespondentConfig(ServiceConfig):
    role: ClassVar[str] = "respondent"
    backend: BackendConfig = Field(default_factory=lambda: PackagedBackend(kind="packaged"))
    knowledge: ExistingDir | None = None  # a folder of .md/.txt documents: the respondent is an expert
    domains: list[Domain] = Field(default_factory=lambda: ["general"], min_length=1)
    model: ModelInfo = Field(default_factory=ModelInfo)
    stake: Amount | None = None
    trusted_coordinators: list[Address] = Field(default_factory=list)  # empty: as the chain says
    max_deadline_ahead_s: float | None = None

    def spec(self, chain_id: int) -> RespondentSpec:
        kind, options = self.backend.options()
        expert = self.backend.expert_manifest() if isinstance(self.backend, AdaptedModel) else None
        backend = BackendSpec(kind=kind, options=options, knowledge=self.knowledge, model_id=self.model.id,
                              expert=expert)  # fmt: skip
        given = _given(stake_wei=self.stake, licence=self.model.licence, model_version=self.model.version,
                       max_deadline_ahead_s=self.max_deadline_ahead_s)  # fmt: skip
        own = {"backend": backend, "domains": self.domains, "trusted_coordinators": self.trusted_coordinators}
        return self.build(RespondentSpec, self.service(chain_id) | own | given)


JudgeKind = Literal["grounded", "combined", "reference", "llm", "fake"]


class JudgeConfig(StrictModel):
    """``[judge]``: how the validator rates answers (see llmnet.roles.judge)."""

    kind: JudgeKind | None = None  # default: grounded
    backend: BackendConfig | None = None  # the judge's model (llm, combined, grounded with with_model)
    corpora: dict[Domain, ExistingDir] = Field(default_factory=dict)  # grounded: reference documents per domain
    with_model: bool | None = None
    references_file: ExistingFile | None = None  # reference: JSON lines of question and reference
    fake_score: float | None = Field(default=None, ge=1, le=10)

    def spec(self) -> JudgeSpec:
        backend = None
        if self.backend is not None:
            kind, options = self.backend.options()
            backend = BackendSpec(kind=kind, options=options)
        given = _given(kind=self.kind, backend=backend, with_model=self.with_model,
                       references_file=self.references_file, fake_score=self.fake_score)  # fmt: skip
        return JudgeSpec(corpora=self.corpora, **given)


class ValidatorConfig(ServiceConfig):
    role: ClassVar[str] = "validator"
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    settler: bool = False  # also settle finished tasks on chain (the escrow must list this account)
    stake: Amount | None = None
    trusted_coordinators: list[Address] = Field(default_factory=list)  # empty: as the chain says
    validators: list[Address] = Field(default_factory=list)  # the settler: whose ratings count; empty: the chain's
    spot_check_rate: float | None = None
    ranking_weight: float | None = None
    settle_interval_s: float | None = None
    max_batch: int | None = None
    max_deadline_ahead_s: float | None = None

    def spec(self, chain_id: int) -> ValidatorSpec:
        given = _given(stake_wei=self.stake, spot_check_rate=self.spot_check_rate, ranking_weight=self.ranking_weight,
                       settle_interval_s=self.settle_interval_s, max_batch=self.max_batch,
                       max_deadline_ahead_s=self.max_deadline_ahead_s)  # fmt: skip
        own = {"judge": self.judge.spec(), "settler": self.settler,
               "trusted_coordinators": self.trusted_coordinators, "validators": self.validators}  # fmt: skip
        return self.build(ValidatorSpec, self.service(chain_id) | own | given)


class TaskConfig(CoordinatorSettings):
    """``[tasks]``: k, rounds, final, max_tokens, the peers' deadlines and collaboration, with the
    coordinator's defaults and limits (llmnet.defaults, CoordinatorSettings)."""

    model_config = ConfigDict(extra="forbid")


def _policy(value: str) -> str:
    from llmnet.reputation.selection import policy_names

    if value not in policy_names():
        raise ValueError(f"no selection policy {value!r}; use one of {policy_names()}")
    return value


class CoordinatorConfig(ServiceConfig):
    role: ClassVar[str] = "coordinator"
    tasks: TaskConfig = Field(default_factory=TaskConfig)
    policy: Annotated[str, AfterValidator(_policy)] | None = None  # default: thompson
    stake: Amount | None = None  # staked in the validator book as a coordinator when it first starts
    fee_per_respondent: Amount | None = None
    max_prompt_chars: int | None = None
    knowledge: ExistingDir | None = None  # a folder per domain: what llmnet/auto learns to route by
    references_file: ExistingFile | None = None  # question -> reference answer (JSON lines), for gold tasks
    gold_rate: float | None = None
    seed: int | None = None
    record_fsync_interval_s: float | None = None
    validators: list[HttpUrl] = Field(default_factory=list)  # empty: the validators on chain
    ask_validators: bool | None = None  # false: no validator rates (they only settle)
    settler_url: HttpUrl | None = None  # default: the settler on chain

    def spec(self, chain_id: int) -> CoordinatorSpec:
        given = _given(policy=self.policy, stake_wei=self.stake, ask_validators=self.ask_validators,
                       fee_per_respondent_wei=self.fee_per_respondent,
                       max_prompt_chars=self.max_prompt_chars, knowledge_root=self.knowledge,
                       references_file=self.references_file, gold_rate=self.gold_rate, seed=self.seed,
                       record_fsync_interval_s=self.record_fsync_interval_s, settler_url=self.settler_url)  # fmt: skip
        own = self.tasks.model_dump() | {"validators": self.validators}
        return self.build(CoordinatorSpec, self.service(chain_id) | own | given)


RoleConfig = RespondentConfig | ValidatorConfig | CoordinatorConfig
CONFIGS: dict[str, type[RespondentConfig] | type[ValidatorConfig] | type[CoordinatorConfig]] = {
    "respondent": RespondentConfig,
    "validator": ValidatorConfig,
    "coordinator": CoordinatorConfig,
}
