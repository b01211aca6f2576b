"""``llmnet serve respondent|validator|coordinator --config FILE`` joins a running network: each
service its own process with its own keystore, sharing only the RPC URL and the deployment's
address with the network, and finding its peers on chain. The respondent answers through the
network's coordinator and through the operator's own, the operator's validator rates for both,
and all shut down cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from llmnet.api.keys import KeyBook
from llmnet.chain.network import chain_url, dev_account
from llmnet.keys import create_keystore
from llmnet.launcher import REQUESTER_DEV, Network, RespondentPlan, fund
from llmnet.types import ETHER
from tests.conftest import free_port
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

FAST: dict[str, Any] = {"kdf": "pbkdf2", "kdf_iterations": 16}
QUESTION = "What is consideration in a contract?"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    respondents = (RespondentPlan("fake-general", ("general",), backend="fake", options={"model_id": "fake-echo"}),)
    with running_network(tmp_path_factory.mktemp("serve-net"), respondents, judge="fake", k=1, rounds=0,
                         validators=1, gold_rate=0.0) as network:  # fmt: skip
        yield network


def operator(folder: Path, role: str, net: Network) -> str:
    """A keystore of the operator's own, its password in a file, and some ether to stake."""
    password = f"{role} password"
    address = create_keystore(folder / f"{role}-key.json", password, **FAST)
    (folder / f"{role}-password").write_text(password + "\n")
    assert net.ledger is not None
    fund(net.ledger, dev_account(0), address, 2 * ETHER)
    return address


def config_file(folder: Path, role: str, net: Network, port: int, fields: str, tables: str = "") -> Path:
    """What an operator writes: the RPC URL, the escrow's address, its own key; nothing else of the network's."""
    assert net.ledger is not None
    path = folder / f"{role}.toml"
    path.write_text(
        f'name = "operator-{role}"\nrpc_url = "{chain_url(net.settings)}"\n'
        f'deployment = "{net.ledger.deployment.escrow}"\nbind = "127.0.0.1:{port}"\ndata_dir = "state"\n'
        f'{fields}\n{tables}\n[key]\nkeystore = "{role}-key.json"\npassword_file = "{role}-password"\n'
    )
    return path


def start(role: str, config: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMNET_")}  # only the file speaks
    log = open(config.with_suffix(".log"), "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, "-m", "llmnet.cli.main", "serve", role, "--config", str(config)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)  # fmt: skip
    log.close()
    return proc


def healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            body: dict[str, Any] = httpx.get(f"{url}/health", timeout=2).json()
            return body
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError(f"{url} not healthy within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("did not stop within 30 s of SIGTERM") from None


def ask_law(base_url: str, api_key: str, rated_by: str, timeout: float = 60) -> Any:
    """Asked until answered and rated by ``rated_by``: a coordinator finds a new respondent and a new
    validator on chain at its next directory refresh."""
    deadline, last = time.monotonic() + timeout, None
    with openai.OpenAI(base_url=base_url, api_key=api_key, timeout=30, max_retries=0) as client:
        while time.monotonic() < deadline:
            try:
                resp = client.chat.completions.create(
                    model="llmnet/law",
                    messages=[{"role": "user", "content": QUESTION}],
                    extra_body={"llmnet": {"k": 1, "rounds": 0}},
                )
            except openai.APIStatusError as exc:
                last = exc
            else:
                if rated_by in resp.model_extra["llmnet"]["receipt"]["validators"]:
                    return resp
                last = resp.model_extra["llmnet"]["receipt"]
            time.sleep(0.5)
    raise AssertionError(f"no answer rated by {rated_by} within {timeout:.0f} s: {last}")


@pytest.fixture
def services(net: Network, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """An operator's respondent, validator and coordinator, each from its own file and keystore; no
    list of peers: each finds the others on chain, as the network's own services do."""
    roles = ("respondent", "validator", "coordinator")
    addresses = {role: operator(tmp_path, role, net) for role in roles}
    ports = {role: free_port() for role in roles}
    fields = {role: 'stake = "0.2 ETH"' for role in roles} | {"respondent": 'stake = "0.2 ETH"\ndomains = ["law"]'}
    tables = {
        "respondent": '[backend]\nkind = "fake"\n[model]\nid = "operator-law-model"\nversion = "1"',
        "validator": '[judge]\nkind = "fake"\nfake_score = 7',
        "coordinator": "[tasks]\nk = 1\nrounds = 0\nrating_timeout_s = 20",
    }
    configs = {role: config_file(tmp_path, role, net, ports[role], fields[role], tables[role]) for role in roles}
    procs = {role: start(role, configs[role]) for role in roles if role != "coordinator"}
    try:
        yield {"addresses": addresses, "ports": ports, "procs": procs, "folder": tmp_path, "configs": configs}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def requester_key(net: Network, folder: Path, coordinator: str) -> str:
    """The network's requester, approving the operator's coordinator, with an API key in its key book."""
    assert net.ledger is not None
    net.ledger.approve(coordinator, ETHER, dev_account(REQUESTER_DEV))
    return KeyBook(folder / "state" / "keys.sqlite").create("requester", dev_account(REQUESTER_DEV).address)


def test_an_operators_services_join_from_their_config_files(net: Network, services: dict[str, Any]) -> None:
    assert net.ledger is not None
    addresses, ports, procs, folder = (services[k] for k in ("addresses", "ports", "procs", "folder"))
    for role in ("respondent", "validator"):
        health = healthy(f"http://127.0.0.1:{ports[role]}", procs[role], folder / f"{role}.log")
        assert health["address"] == addresses[role] and health["registration"] == "registered"
    procs["coordinator"] = start("coordinator", services["configs"]["coordinator"])  # reads the book at start
    health = healthy(f"http://127.0.0.1:{ports['coordinator']}", procs["coordinator"], folder / "coordinator.log")
    assert health["address"] == addresses["coordinator"] and health["registration"] == "registered"
    provider = net.ledger.get_provider(addresses["respondent"])
    assert provider.profile.endpoint == f"http://127.0.0.1:{ports['respondent']}"
    assert provider.profile.domains == ("law",) and provider.profile.model_id == "operator-law-model"
    assert net.ledger.is_validator(addresses["validator"])

    resp = ask_law(net.base_url, net.api_key, addresses["validator"])  # through the network's coordinator
    assert QUESTION in (resp.choices[0].message.content or "")  # the fake backend echoes
    receipt = resp.model_extra["llmnet"]["receipt"]
    assert [r["address"] for r in receipt["respondents"] if r["answered"]] == [addresses["respondent"]]
    assert receipt["respondents"][0]["model_id"] == "operator-law-model"

    own = f"http://127.0.0.1:{ports['coordinator']}/v1"  # through the operator's coordinator
    resp = ask_law(own, requester_key(net, folder, addresses["coordinator"]), addresses["validator"])
    receipt = resp.model_extra["llmnet"]["receipt"]
    assert [r["address"] for r in receipt["respondents"] if r["answered"]] == [addresses["respondent"]]
    assert QUESTION in (resp.choices[0].message.content or "")

    for role in ("coordinator", "respondent", "validator"):
        assert stop(procs[role]) == 0, (folder / f"{role}.log").read_text()[-3000:]
