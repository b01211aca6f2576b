"""The commented example each role's config starts from (``llmnet init ROLE``).

As written, an example runs on a local development chain: the embedded node, the deployment
``llmnet chain deploy`` (or ``llmnet up``) recorded, and a development account. The values given
to ``llmnet init`` as flags replace the placeholders; the defaults shown commented out come from
where they are defined (llmnet.defaults, the coordinator's settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from llmnet.api.openai_app import CoordinatorSpec
from llmnet.defaults import DEFAULT_FEE_PER_RESPONDENT_WEI, DEFAULT_K, DEFAULT_MAX_TOKENS, DEFAULT_ROUNDS, MAX_K
from llmnet.keys import PASSWORD_ENV
from llmnet.roles.config.services import DEFAULT_PORTS
from llmnet.roles.coordinator import CoordinatorSettings
from llmnet.roles.respondent import RespondentSpec
from llmnet.roles.validator import ValidatorSpec

# development accounts the examples use: `llmnet up` uses 0-9 (and 10-19 only past five respondents)
DEV_ACCOUNTS = {"respondent": 15, "validator": 16, "coordinator": 17}

HEADER = """\
# llmnet {role}: {what}
# Run it with:  llmnet serve {role} --config {file}
#
# Layers: this file < the environment < flags. A variable LLMNET_{ROLE}_<FIELD> sets a field (a table's
# field after "__", e.g. LLMNET_{ROLE}_KEY__PASSWORD_FILE; lists as JSON); the flags --rpc-url,
# --deployment, --bind, --public-url, --dev and --data-dir win over both. Relative paths are relative
# to this file. Amounts are wei, or a number and a unit: "0.5 ETH", "300 gwei".

name = "{name}"

# The Ethereum JSON-RPC node. Default: $LLMNET_RPC_URL, else the embedded node (`llmnet chain up`).
{rpc_url}
# The deployment: the TaskEscrow's address (`llmnet chain status` prints it); the other contracts are
# read from it. Default: the deployment `llmnet chain deploy` or `llmnet chain attach` recorded.
{deployment}

# The account this service signs with. A development account (its key is public) is accepted only on
# a local development chain; anywhere else use a keystore: the [key] table at the end of this file.
{dev}

# Where the service listens, and the URL others reach it at, registered on chain (default: the bind
# address). They differ behind NAT or in a container; with bind = "0.0.0.0:PORT" public_url is required.
bind = "{bind}"
{public_url}

# Where the service keeps its state (default: ~/.llmnet/network/state, beside `llmnet keys`).
# data_dir = "state"
"""

KEY_TABLE = """
[key]
# An encrypted Ethereum keystore (`llmnet init {role} --new-key` makes one), and its password: in an
# environment variable (password_env) or on the first line of a file (password_file).
keystore = "{keystore}"
password_env = "{password_env}"
# password_file = "/run/secrets/{role}-password"
"""

KEY_EXAMPLE = """
# [key]
# keystore = "{role}-key.json"           # `llmnet init {role} --new-key` makes one
# password_env = "{password_env}"
# password_file = "/run/secrets/{role}-password"
"""

RESPONDENT = """
# The domains it answers in (each must exist on chain: `llmnet domains list`).
domains = ["general"]
# A folder of .md/.txt documents makes it an expert: answers are grounded in them.
# knowledge = "knowledge/law"
# Staked in the provider registry when it first starts (at least the registry's minimum).
stake = "{respondent_stake}"
# Coordinators it takes work from; empty: every coordinator the chain lists.
# trusted_coordinators = ["0x..."]

[backend]
# kind = "packaged": a model shipped with llmnet (model = "smollm2" or "gemma3-270m")
# kind = "gguf": any GGUF file, run by llama.cpp (path = "/models/model.gguf", mode = "chat" | "completion")
# kind = "openai": any OpenAI-compatible endpoint (base_url = "http://127.0.0.1:8080/v1", model = "...",
#                  api_key_env = "NAME_OF_THE_VARIABLE_HOLDING_THE_KEY" if it wants one)
kind = "packaged"
model = "smollm2"
# threads = 2
# A trained expert on this model (`llmnet expert train`): its run folder, or a GGUF LoRA adapter file.
# A LoRA is applied by llama.cpp, a prefix-tuned expert is run by transformers; the registered weights
# hash is then the adapter's, and the run's expert.json is served at /v1/expert.
# adapter = "experts/law-v2"

[model]
# What it registers about its model. id: default, the backend's (the GGUF file's name, the OpenAI model).
# id = "smollm2-135m-instruct"
version = "SmolLM2-135M-Instruct Q4_1"
licence = "Apache-2.0"
"""

VALIDATOR = """
# Staked in the validator book when it first starts (at least the book's minimum).
stake = "{validator_stake}"
# Also settle finished tasks on chain (the escrow must list this account as a settler).
settler = false
# Coordinators it takes rating requests from; empty: every coordinator the chain lists.
# trusted_coordinators = ["0x..."]
# As settler, the validators whose ratings count; empty: every staked validator in good standing.
# validators = ["0x..."]
# Share of rated answers it re-runs to catch a respondent misreporting its model.
# spot_check_rate = 0.05  # default {spot_check_rate}

[judge]
# grounded: answers checked against each domain's documents (its own folders below, else the ones the
#           domain's card on chain names); llm: a model rates; combined: reference + llm; reference; fake
kind = "grounded"
# corpora = {{ law = "knowledge/law", medicine = "knowledge/medicine" }}
# with_model = false      # grounded: let a model rate what the documents cannot (uses [judge.backend])

# [judge.backend]         # the judge's model, as a respondent's [backend]
# kind = "packaged"
# model = "gemma3-270m"
# mode = "completion"
"""

COORDINATOR = """
# How respondents are chosen: thompson, greedy, epsilon_greedy, ucb, random, round_robin.
policy = "{policy}"
# Staked in the validator book, as a coordinator, when it first starts: respondents and validators
# take work from coordinators in good standing there.
stake = "{coordinator_stake}"
# What a requester pays per respondent a task asks.
fee_per_respondent = {fee}
# A folder per domain of documents: what llmnet/auto learns to route by (default: the domains' cards).
# knowledge = "knowledge"
# Validators to ask and the settler to send outcomes to; default: those the chain lists.
# validators = ["http://validator.example:8570"]
# settler_url = "http://validator.example:8570"

[tasks]
# k = {k}                  # respondents per task (1-{max_k})
# rounds = {rounds}             # debate rounds after the first answers
# max_tokens = {max_tokens}        # completion tokens of one answer
# final = "{final}"           # best: the best-rated answer; synthesis: the top-rated respondent merges them
# collaboration = "{collaboration}"   # adaptive: one respondent first, more only when it is not rated confidently
# respondent_timeout_s = {respondent_timeout_s}
# rating_timeout_s = {rating_timeout_s}
"""

ROLE_TEXT = {
    "respondent": ("sells answers from one model, optionally grounded in a folder of documents", RESPONDENT),
    "validator": ("rates answers, signs its ratings, and (as settler) records tasks on chain", VALIDATOR),
    "coordinator": ("an OpenAI-compatible API over the network: chooses respondents, runs the debate", COORDINATOR),
}


@dataclass(frozen=True)
class InitValues:
    """What ``llmnet init`` was told; None leaves the placeholder (or the default) in the example."""

    role: str
    file: Path
    name: str | None = None
    rpc_url: str | None = None
    deployment: str | None = None
    bind: str | None = None
    public_url: str | None = None
    dev: int | None = None
    keystore: str | None = None  # as written in the file: relative to it


def _line(field: str, value: str | None, example: str) -> str:
    return f'{field} = "{value}"' if value else f'# {field} = "{example}"'


def render(v: InitValues) -> str:
    """The commented example config of ``v.role``."""
    what, body = ROLE_TEXT[v.role]
    dev = v.dev if v.dev is not None else DEV_ACCOUNTS[v.role]
    header = HEADER.format(
        role=v.role, ROLE=v.role.upper(), what=what, file=v.file.name, name=v.name or v.role,
        rpc_url=_line("rpc_url", v.rpc_url, "http://127.0.0.1:8545"),
        deployment=_line("deployment", v.deployment, "0x<the TaskEscrow's address>"),
        dev=f"# dev = {dev}" if v.keystore else f"dev = {dev}",
        bind=v.bind or f"127.0.0.1:{DEFAULT_PORTS[v.role]}",
        public_url=_line("public_url", v.public_url, "http://203.0.113.7:" + str(DEFAULT_PORTS[v.role])),
    )  # fmt: skip
    key = KEY_TABLE if v.keystore else KEY_EXAMPLE
    return header + body.format(**_spec_defaults()) + key.format(role=v.role, keystore=v.keystore,
                                                                       password_env=PASSWORD_ENV)  # fmt: skip


def ether(wei: int) -> str:
    """An amount as the file writes it: "1 ETH", "0.1 ETH", "10000 gwei"."""
    if wei % 10**9:
        return f"{wei} wei"
    return f"{Decimal(wei) / 10**18:f} ETH" if wei >= 10**15 else f"{wei // 10**9} gwei"


def _spec_defaults() -> dict[str, object]:
    """The defaults the examples show, read from the specs that define them."""
    settings = CoordinatorSettings()
    return {"k": DEFAULT_K, "max_k": MAX_K, "rounds": DEFAULT_ROUNDS, "max_tokens": DEFAULT_MAX_TOKENS,
            "fee": f'"{ether(DEFAULT_FEE_PER_RESPONDENT_WEI)}"', "final": settings.final,
            "collaboration": settings.collaboration, "respondent_timeout_s": settings.respondent_timeout_s,
            "rating_timeout_s": settings.rating_timeout_s, "policy": CoordinatorSpec.model_fields["policy"].default,
            "respondent_stake": ether(RespondentSpec.model_fields["stake_wei"].default),
            "validator_stake": ether(ValidatorSpec.model_fields["stake_wei"].default),
            "coordinator_stake": ether(CoordinatorSpec.model_fields["stake_wei"].default),
            "spot_check_rate": ValidatorSpec.model_fields["spot_check_rate"].default}  # fmt: skip
