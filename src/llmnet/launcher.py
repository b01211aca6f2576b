"""Bring a whole local network up as separate processes on 127.0.0.1.

The embedded chain, respondents (experts with knowledge folders and a general
model), validators (the first one settles) and the coordinator, each its own
process with its own development account. ``Network.start`` returns once
every service answers; ``Network.stop`` shuts them all down.

What runs is a :class:`NetworkOptions`; :func:`network_options` reads one from a network file
(``llmnet up --config network.toml``, see :mod:`llmnet.network_file`), and without a file the
built-in one, whose respondents are those of ``llmnet/data/network.toml``. Domains the respondents
serve that are not on chain yet are created by governance, with their cards.

Development accounts: 0 governance, 1-5 respondents, 6-7 validators,
8 coordinator, 9 the demo requester.

The demo requester's API key is kept in ``<data_dir>/network/requester.key`` and used again by
the next ``llmnet up`` while it is valid; a new one is minted (valid 30 days, the older demo
keys revoked) only when it is missing, revoked or expired.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from llmnet.api.keys import KeyBook, key_book_file
from llmnet.api.openai_app import CoordinatorSpec
from llmnet.api.server import HttpLimits
from llmnet.chain.deploy import DeploymentBook
from llmnet.chain.ledger import Account, Ledger
from llmnet.chain.network import chain_url, connect, deploy, dev_account, embedded_node
from llmnet.chain.node import LocalNode, node_answers
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.config import Settings
from llmnet.data import KNOWLEDGE_ROOT
from llmnet.defaults import DEFAULT_FEE_PER_RESPONDENT_WEI, DEFAULT_K, DEFAULT_MAX_TOKENS, DEFAULT_ROUNDS
from llmnet.errors import AuthenticationError, ConfigError, NotDeployed
from llmnet.network_file import default_plans, read_network_file
from llmnet.respondent_plan import RespondentPlan as RespondentPlan  # plans are made with the launcher
from llmnet.roles.common import AccountSpec, ChainSpec
from llmnet.roles.peers import PeerDeadlines
from llmnet.roles.respondent import BackendSpec, RespondentSpec, served_corpus
from llmnet.roles.validator import JudgeSpec, ValidatorSpec
from llmnet.types import ETHER, DomainCard

COORDINATOR_DEV, REQUESTER_DEV, VALIDATOR_DEVS = 8, 9, (6, 7)
FUNDED_DEVS = 20  # the embedded node funds development accounts 0..19
DEMO_KEY_NAME, DEMO_KEY_TTL_S = "demo", 30 * 86400.0
JUDGE_MODELS = ({"n_threads": 1}, {"model": "gemma3-270m", "mode": "completion", "n_threads": 1})


def respondent_dev(i: int) -> int:
    """Development account of the i-th respondent: 1-5, then 10-19, then 100 and up (funded at start)."""
    return 1 + i if i < 5 else 5 + i if i < 15 else 100 + i


def validator_dev(i: int) -> int:
    """Development account of the i-th validator: 6 and 7, then 200 and up (funded at start)."""
    return VALIDATOR_DEVS[i] if i < len(VALIDATOR_DEVS) else 200 + i


DEFAULT_RESPONDENTS = default_plans()  # the built-in topology: llmnet/data/network.toml


@dataclass
class NetworkOptions:
    coordinator_port: int = 8300
    respondent_base_port: int = 8401
    validator_base_port: int = 8501
    respondents: tuple[RespondentPlan, ...] = DEFAULT_RESPONDENTS
    validators: int = 2
    rate: bool = True  # False: validators only settle; the coordinator asks none for ratings
    judge: str = JudgeSpec.model_fields["kind"].default  # the validators' (roles.validator.DEFAULT_JUDGE)
    k: int = DEFAULT_K
    rounds: int = DEFAULT_ROUNDS
    max_tokens: int = DEFAULT_MAX_TOKENS
    fee_per_respondent_wei: int = DEFAULT_FEE_PER_RESPONDENT_WEI
    seed: int | None = 7
    record_fsync_interval_s: float = 0.1  # see CoordinatorSpec
    gold_rate: float = 0.1  # see CoordinatorSpec
    spot_check_rate: float = 0.05  # share of rated answers each validator re-runs (see roles.spotcheck)
    # per validator, the JudgeSpec fields that differ from ``judge`` (the adversary suite's dishonest validators)
    validator_judges: tuple[dict[str, Any], ...] = ()
    ranking_weight: float = 0.5  # what one human ranking counts for in reputation (see ValidatorSpec)
    deadlines: PeerDeadlines = field(default_factory=PeerDeadlines)  # the coordinator's, for answers and ratings
    http: HttpLimits = field(default_factory=HttpLimits)  # every service's read deadlines and size limits
    # a folder per domain (experts' documents, the classifier's examples) and questions.jsonl (gold tasks)
    knowledge_root: Path = KNOWLEDGE_ROOT
    collaboration: Literal["adaptive", "fixed"] | None = None  # None: the coordinator's default
    policy: str | None = None  # how the coordinator picks respondents; None: its default


def network_options(config: Path | None = None) -> NetworkOptions:
    """The network ``config`` describes (``llmnet up --config FILE``); without one, the built-in network."""
    if config is None:
        return NetworkOptions()
    options = NetworkOptions(**read_network_file(config).options())
    clash = port_clash(options)
    if clash is not None:
        raise ConfigError(f"{config}: [ports]: {clash}; set the [ports] bases further apart")
    return options


def port_clash(o: NetworkOptions) -> str | None:
    """Two services of ``o`` on one port (or one past the last port), in words; None when all is well."""
    owners = {o.coordinator_port: "the coordinator"}
    wanted = [(o.respondent_base_port + i, f"respondent {plan.name!r}") for i, plan in enumerate(o.respondents)]
    wanted += [(o.validator_base_port + i, f"validator-{i + 1}") for i in range(o.validators)]
    for port, who in wanted:
        if port in owners or port > 65535:
            return f"{who} would listen on port {port}" + (f", as {owners[port]} does" if port in owners else "")
        owners[port] = who
    return None


class Service(BaseModel):
    role: str
    name: str
    url: str
    spec_file: Path


@dataclass
class Network:
    settings: Settings
    options: NetworkOptions = field(default_factory=NetworkOptions)
    services: list[Service] = field(default_factory=list)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    api_key: str = ""
    ledger: Web3Ledger | None = None
    node: LocalNode | None = None  # the embedded node, when this network started it

    @property
    def root(self) -> Path:
        return self.settings.data_dir / "network"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.options.coordinator_port}/v1"

    # ------------------------------------------------------------- chain
    def _chain(self) -> Web3Ledger:
        node = embedded_node(self.settings)
        if self.settings.rpc_url is None and not node_answers(node.url):
            node.start()
            self.node = node
        w3 = connect(chain_url(self.settings))
        try:
            ledger = Web3Ledger(w3, DeploymentBook(self.settings.deployments_file).find(w3))
            ledger.domain_cards()  # contracts of an older version are replaced
            ledger.settlers()
            return ledger
        except NotDeployed:
            return deploy(self.settings, w3)

    def _prepare_accounts(self, ledger: Web3Ledger) -> None:
        gov = dev_account(0)
        extra = [respondent_dev(i) for i in range(len(self.options.respondents))]
        extra += [validator_dev(i) for i in range(self.options.validators)]
        for dev in (d for d in extra if d >= FUNDED_DEVS):
            who = dev_account(dev).address
            if ledger.balance_of(who) < 5 * ETHER:
                fund(ledger, gov, who, 20 * ETHER)
        settler = dev_account(VALIDATOR_DEVS[0]).address
        if not ledger.is_settler(settler):
            ledger.set_settler(settler, True, gov)
        requester, coordinator = dev_account(REQUESTER_DEV), dev_account(COORDINATOR_DEV).address
        if ledger.deposit_of(requester.address) < ETHER:
            ledger.deposit(5 * ETHER, requester)
        if ledger.allowance(requester.address, coordinator) < ETHER:
            ledger.approve(coordinator, 5 * ETHER, requester)
        gold_payer = dev_account(COORDINATOR_DEV)  # the coordinator pays for the gold tasks it mixes in
        if ledger.deposit_of(gold_payer.address) < ETHER // 10:
            ledger.deposit(ETHER, gold_payer)
        if ledger.allowance(gold_payer.address, gold_payer.address) < ETHER // 10:
            ledger.approve(gold_payer.address, ETHER, gold_payer)

    # ------------------------------------------------------------- specs
    def _common(self, name: str, port: int, dev: int) -> dict[str, Any]:
        assert self.ledger is not None
        chain = ChainSpec(rpc_url=chain_url(self.settings), deployments_file=self.settings.deployments_file)
        return {"name": name, "port": port, "account": AccountSpec(dev_index=dev), "chain": chain,
                "data_dir": self.root / "state", "http": self.options.http}  # fmt: skip

    def _corpora(self) -> dict[str, Path]:
        """A validator's reference documents: the knowledge folders the experts of each domain use."""
        root = self.options.knowledge_root
        return {d: root / p.knowledge for p in self.options.respondents if p.knowledge for d in p.domains}

    def _specs(self) -> list[tuple[str, BaseModel]]:
        o = self.options
        specs: list[tuple[str, BaseModel]] = []
        for i, plan in enumerate(o.respondents):
            knowledge = o.knowledge_root / plan.knowledge if plan.knowledge else None
            backend = BackendSpec(kind=plan.backend, options=plan.options, knowledge=knowledge, expert=plan.expert)
            respondent = RespondentSpec(**self._common(plan.name, o.respondent_base_port + i, respondent_dev(i)),
                                  backend=backend,
                                  domains=list(plan.domains),
                                  licence=plan.licence, model_version=plan.version)  # fmt: skip
            specs.append(("respondent", respondent))
        for i in range(o.validators):
            # judges alternate between the two packaged models: a validator is never shown answers from
            # its own judge's weights, so with one model for all, that model's respondents would go unrated
            judge: dict[str, Any] = {"kind": o.judge, "backend": BackendSpec(options=JUDGE_MODELS[i % 2]),
                                     "corpora": self._corpora()}  # fmt: skip
            judge |= o.validator_judges[i] if i < len(o.validator_judges) else {}
            validator = ValidatorSpec(**self._common(f"validator-{i + 1}", o.validator_base_port + i, validator_dev(i)),
                                 judge=JudgeSpec(**judge),
                                 settler=i == 0,
                                 spot_check_rate=o.spot_check_rate, ranking_weight=o.ranking_weight)  # fmt: skip
            specs.append(("validator", validator))
        questions = o.knowledge_root / "questions.jsonl"
        coordinator_spec = CoordinatorSpec(
            **self._common("coordinator", o.coordinator_port, COORDINATOR_DEV),
            k=o.k,
            rounds=o.rounds,
            ask_validators=o.rate,  # which validators, and the settler, are read from the chain
            fee_per_respondent_wei=o.fee_per_respondent_wei,
            max_tokens=o.max_tokens,
            knowledge_root=o.knowledge_root if o.knowledge_root.exists() else None,
            references_file=questions if questions.exists() else None,
            seed=o.seed,
            record_fsync_interval_s=o.record_fsync_interval_s,
            gold_rate=o.gold_rate,
            ranker=AccountSpec(dev_index=REQUESTER_DEV),  # the dashboard's relayer: pays gas, ranks as nobody
            **o.deadlines.model_dump(),
        )
        chosen = {"collaboration": o.collaboration, "policy": o.policy}  # None: the coordinator's default
        coordinator_spec = coordinator_spec.model_copy(update={k: v for k, v in chosen.items() if v is not None})
        specs.append(("coordinator", coordinator_spec))
        return specs

    # ------------------------------------------------------------- processes
    def _spawn(self, role: str, spec: BaseModel) -> Service:
        name = spec.name  # type: ignore[attr-defined]
        spec_file = self.root / "specs" / f"{name}.json"
        spec_file.parent.mkdir(parents=True, exist_ok=True)
        spec_file.write_text(spec.model_dump_json(indent=1))
        log = open(self.root / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "llmnet.roles.serve", role, str(spec_file)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        return Service(role=role, name=name, url=spec.url, spec_file=spec_file)  # type: ignore[attr-defined]

    def _wait_healthy(self, services: list[Service], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(services)
        while waiting:
            for service in list(waiting):
                proc = self.processes[service.name]
                if proc.poll() is not None:
                    log = (self.root / "logs" / f"{service.name}.log").read_text()[-2000:]
                    raise ConfigError(f"{service.role} {service.name} exited with code {proc.returncode}:\n{log}")
                if _answers(f"{service.url}/health"):
                    waiting.remove(service)
            if time.monotonic() > deadline:
                raise ConfigError(f"services did not come up within {timeout:.0f}s: {[s.name for s in waiting]}")
            time.sleep(0.2)

    def start(self, timeout: float = 180.0) -> None:
        """Start every service; if one fails to start, stop those already running and re-raise."""
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self.ledger = self._chain()
        self._prepare_accounts(self.ledger)
        ensure_domains(self.ledger, self.options.respondents, dev_account(0))
        specs = self._specs()
        publish_cards(self.ledger, domain_cards(self.options.respondents, specs))
        first = [self._spawn(role, spec) for role, spec in specs if role != "coordinator"]
        self._wait_healthy(first, timeout)  # respondents register on start; the coordinator reads them
        last = [self._spawn(role, spec) for role, spec in specs if role == "coordinator"]
        self._wait_healthy(last, timeout)
        self.services = first + last
        self.api_key = demo_key(KeyBook(key_book_file(self.settings.data_dir)), self.root / "requester.key")

    def join(self, role: str, spec: BaseModel, timeout: float = 60.0) -> Service:
        """Start one more service while the network runs; it registers on chain as it starts, and
        the others find it there."""
        service = self._spawn(role, spec)
        self._wait_healthy([service], timeout)
        self.services.append(service)
        return service

    def stop(self) -> None:
        for proc in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()
        if self.node is not None:
            self.node.stop()
            self.node = None

    def kill(self, name: str) -> None:
        """SIGKILL one service, as a crash would."""
        os.kill(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait()


def domain_cards(plans: tuple[RespondentPlan, ...], specs: list[tuple[str, BaseModel]]) -> list[DomainCard]:
    """A card for each domain an expert here holds documents for, naming the first such expert's corpus."""
    from llmnet.experts.classifier import DOMAIN_DESCRIPTIONS

    respondents = [spec for role, spec in specs if isinstance(spec, RespondentSpec)]
    cards: dict[str, DomainCard] = {}
    for plan, spec in zip(plans, respondents, strict=True):
        served = served_corpus(spec.backend.knowledge)  # what the expert will serve, if anything
        if served is None:
            continue
        corpus = served[0]
        for d in (d for d in plan.domains if d != "general" and d not in cards):
            description = plan.description or next(iter(DOMAIN_DESCRIPTIONS.get(d, ())), "")
            cards[d] = DomainCard(d, description, corpus, f"{spec.url}/v1/corpus/{corpus}")
    return list(cards.values())


def ensure_domains(ledger: Ledger, plans: tuple[RespondentPlan, ...], governance: Account) -> list[str]:
    """Create, as ``governance``, each domain the respondents serve that is not on chain yet; the new ones."""
    on_chain = set(ledger.domains())
    new = [d for d in dict.fromkeys(d for plan in plans for d in plan.domains) if d not in on_chain]
    for domain in new:
        ledger.add_domain(domain, governance)
    return new


def publish_cards(ledger: Web3Ledger, cards: list[DomainCard]) -> None:
    """Set, as governance, each card that differs from the one on chain (domains not on chain are skipped)."""
    on_chain = {card.domain: card for card in ledger.domain_cards()}
    for card in cards:
        if card.domain in on_chain and on_chain[card.domain] != card:
            ledger.set_domain_card(card, dev_account(0))


def demo_key(keys: KeyBook, key_file: Path) -> str:
    """The demo requester's API key: the one in ``key_file`` while it is still valid, else a new one
    valid for ``DEMO_KEY_TTL_S``, and every other demo key revoked (their file is gone or replaced)."""
    if key_file.exists():
        kept = key_file.read_text().strip()
        with contextlib.suppress(AuthenticationError):
            keys.account_for(f"Bearer {kept}")
            return kept
    for old in keys.entries():
        if old.name == DEMO_KEY_NAME and old.revoked is None:
            keys.revoke(old.key_id)
    api_key = keys.create(DEMO_KEY_NAME, dev_account(REQUESTER_DEV).address, ttl_s=DEMO_KEY_TTL_S)
    key_file.write_text(api_key)
    key_file.chmod(0o600)
    return api_key


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code < 500
    except httpx.HTTPError:
        return False


def fund(ledger: Web3Ledger, sender: Account, to: str, amount: int) -> None:
    """A plain transfer of the chain's currency (development accounts beyond the funded ones)."""
    w3 = ledger.w3
    tx = {"to": to, "value": amount, "gas": 21_000, "chainId": ledger.chain_id,
          "nonce": ledger.tx.next_nonce(sender.address), **ledger.tx.fee_fields()}  # fmt: skip
    signed = w3.eth.account.sign_transaction(tx, sender.key)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
