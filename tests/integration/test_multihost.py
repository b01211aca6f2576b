"""A network of independent hosts: Linux network namespaces on a bridge of their own (see netns.py).

Hosts: a chain, a coordinator, two respondents, a validator and a requester. Every role starts only
through ``llmnet serve ROLE --config FILE`` with its own keystore; the hosts share nothing but the
RPC URL and the deployment's address (its escrow). The requester finds the coordinator on chain,
signs in with its own key and escrows a deposit. While its requests flow, a third respondent host and
a second validator host join and get work; then the first respondent host's link is cut. Requests
keep being answered within their deadline, the cut host's failures show in its reputation, every
acknowledged answer is settled on chain, and every operator is paid.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmnet.chain.node import find_anvil
from llmnet.keys import create_keystore
from llmnet.types import TaskStatus
from tests.integration.netns import Host, Lan, netns_usable

pytestmark = [pytest.mark.integration, pytest.mark.skipif(netns_usable() is not None, reason=str(netns_usable()))]

HERE = Path(__file__).parent / "multihost"
PY = sys.executable
RESPONDENT_TIMEOUT_S, RATING_TIMEOUT_S = 8.0, 8.0
# a request that meets a cut respondent waits out its deadline, then a replacement answers and is rated
REQUEST_DEADLINE_S = 2 * RESPONDENT_TIMEOUT_S + RATING_TIMEOUT_S + 10
FAST_KDF: dict[str, Any] = {"kdf": "pbkdf2", "kdf_iterations": 16}
SETTLED = int(TaskStatus.SETTLED)


class Site:
    """The test's view of the network: the LAN, the chain's URL and deployment, each operator's folder."""

    def __init__(self, lan: Lan, root: Path) -> None:
        self.lan, self.root = lan, root
        self.rpc_url = self.escrow = ""
        self.addresses: dict[str, str] = {}

    def chain_ops(self, *args: str) -> str:
        return self.lan.hosts["chain"].run([PY, str(HERE / "chain_ops.py"), self.rpc_url, self.escrow, *args]).stdout

    def governance(self, *args: str) -> str:
        """An ``llmnet`` command of the chain's operator (governance), on the chain host."""
        argv = [PY, "-m", "llmnet.cli.main", *args, "--rpc-url", self.rpc_url, "--data-dir", str(self.root / "chain")]
        return self.lan.hosts["chain"].run(argv).stdout

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.chain_ops("state", *self.addresses.values()))
        return state

    def operator(self, name: str) -> tuple[Host, Path]:
        """A host with its own folder, keystore and password file, its account funded by the faucet."""
        host, folder = self.lan.host(name), self.root / name
        folder.mkdir()
        (folder / "password").write_text(f"{name} secret\n")
        self.addresses[name] = create_keystore(folder / "key.json", f"{name} secret", **FAST_KDF)
        self.chain_ops("fund", self.addresses[name])
        return host, folder

    def serve(self, name: str, role: str, port: int, body: str, *, settles: bool = False) -> Host:
        """Start ``llmnet serve ROLE --config`` on a new host, from a file naming only the chain and itself
        (a validator that ``settles`` is first allowed to by governance)."""
        host, folder = self.operator(name)
        if settles:  # governance, on the chain host
            self.governance("chain", "settlers", "add", self.addresses[name])
        config = folder / f"{role}.toml"
        config.write_text(
            f'name = "{name}"\nrpc_url = "{self.rpc_url}"\ndeployment = "{self.escrow}"\n'
            f'bind = "{host.ip}:{port}"\ndata_dir = "state"\n{body}\n'
            '[key]\nkeystore = "key.json"\npassword_file = "password"\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMNET_")} | {"HOME": str(folder)}
        host.popen([PY, "-m", "llmnet.cli.main", "serve", role, "--config", str(config)], log=folder / "serve.log",
                   env=env, cwd=folder)  # fmt: skip
        wait_for(lambda: self._healthy(host, port), 120, lambda: f"{name} never answered /health: {tail(folder)}")
        return host

    @staticmethod
    def _healthy(host: Host, port: int) -> bool:
        probe = f"import urllib.request; urllib.request.urlopen('http://{host.ip}:{port}/health', timeout=2)"
        return host.run([PY, "-c", probe], check=False).returncode == 0


def tail(folder: Path) -> str:
    return (folder / "serve.log").read_text()[-3000:] if (folder / "serve.log").exists() else "(no log)"


def wait_for(check: Callable[[], Any], timeout: float, message: str | Callable[[], str], every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(message if isinstance(message, str) else message())


def respondent(model: str = "smollm2") -> str:
    return (f'domains = ["general"]\nstake = "1 ETH"\n[backend]\nkind = "packaged"\nmodel = "{model}"\n'
            'threads = 1\n[model]\nversion = "SmolLM2-135M-Instruct Q4_1"\nlicence = "Apache-2.0"')  # fmt: skip


VALIDATOR = 'stake = "1 ETH"\nsettler = {settler}\n[judge]\nkind = "grounded"'
COORDINATOR = (f'stake = "1 ETH"\n[tasks]\nk = 2\nrounds = 0\nmax_tokens = 24\ncollaboration = "fixed"\n'
               f"respondent_timeout_s = {RESPONDENT_TIMEOUT_S}\nrating_timeout_s = {RATING_TIMEOUT_S}")  # fmt: skip


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with Lan(f"m{os.getpid() % 1000}") as lan:
        yield Site(lan, tmp_path)


def requests_so_far(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_independent_hosts_join_answer_settle_and_survive_a_cut_link(site: Site) -> None:
    chain = site.lan.host("chain")
    site.rpc_url = f"http://{chain.ip}:8545"
    (site.root / "chain").mkdir()
    chain.popen([find_anvil(), "--host", chain.ip, "--port", "8545", "--chain-id", "31337"],
                log=site.root / "chain" / "anvil.log")  # fmt: skip
    wait_for(lambda: chain.run([PY, "-m", "llmnet.cli.main", "chain", "deploy", "--rpc-url", site.rpc_url,
                                "--data-dir", str(site.root / "chain")], check=False).returncode == 0,
             60, "the contracts were not deployed")  # fmt: skip
    deployments = json.loads((site.root / "chain" / "deployments.json").read_text())
    site.escrow = next(iter(deployments.values()))["escrow"]

    site.serve("resp-a", "respondent", 8470, respondent())
    site.serve("resp-b", "respondent", 8470, respondent())
    site.serve("val-a", "validator", 8570, VALIDATOR.format(settler="true"), settles=True)
    site.serve("coord", "coordinator", 8370, COORDINATOR)
    assert site.state()["coordinators"] == [f"http://{site.lan.hosts['coord'].ip}:8370"]

    requester, folder = site.operator("requester")
    log, stop = folder / "requests.jsonl", folder / "stop"
    requester.popen([PY, str(HERE / "requester.py"), site.rpc_url, site.escrow, str(folder / "key.json"),
                     str(folder / "password"), str(log), str(stop)], log=folder / "serve.log", cwd=folder)  # fmt: skip
    wait_for(lambda: len([r for r in requests_so_far(log) if r.get("ok")]) >= 3, 180,
             lambda: f"the first requests were not answered: {requests_so_far(log)} {tail(folder)}")  # fmt: skip

    site.serve("resp-c", "respondent", 8470, respondent())  # new hosts join while requests flow
    site.serve("val-b", "validator", 8570, VALIDATOR.format(settler="false"))
    a, c, vb = (site.addresses[n] for n in ("resp-a", "resp-c", "val-b"))
    wait_for(lambda: any(c in r.get("answered", []) for r in requests_so_far(log)), 120,
             "the new respondent host got no work")  # fmt: skip
    wait_for(lambda: any(vb in r.get("validators", []) for r in requests_so_far(log)), 120,
             "the new validator host got no work")  # fmt: skip

    cut_at = len(requests_so_far(log))
    site.lan.hosts["resp-a"].cut()
    wait_for(lambda: any(a in r.get("failed", []) for r in requests_so_far(log)[cut_at:])
             and len(requests_so_far(log)) >= cut_at + 6, 240, "no request met the cut host")  # fmt: skip
    stop.touch()
    wait_for(lambda: not any(p.poll() is None for p in requester.processes), 180, "the requester did not stop")

    done = requests_so_far(log)
    failures = [r for r in done if not r.get("ok")]
    assert not failures, failures
    slow = [r for r in done if r["seconds"] > REQUEST_DEADLINE_S]
    assert not slow, slow
    answered = {who for r in done for who in r["answered"]}
    assert {site.addresses[n] for n in ("resp-a", "resp-b", "resp-c")} <= answered
    assert not any(a in r["answered"] for r in done[cut_at + 1 :])  # nobody reaches the cut host

    # every acknowledged answer is settled on chain, every operator is paid, the cut shows in reputation
    state = wait_for(lambda: (s := site.state()) and _all_settled(s, len(done)) and s, 180,
                     f"not every answered task settled: {site.state()['tasks']}")  # fmt: skip
    for name in ("resp-a", "resp-b", "resp-c", "val-a", "val-b", "coord"):
        assert state["credits"][site.addresses[name]] > 0, (name, state["credits"])
    # one observation per task it was asked in: its answers' ratings, and each failure at the score 0
    answers_a, failures_a = (sum(a in r[k] for r in done) for k in ("answered", "failed"))
    count = state["reputation"][a][0]
    assert failures_a >= 1 and count == answers_a + failures_a, (answers_a, failures_a, count)
    (alpha_before, beta_before), (alpha_last, beta_last) = state["last_updates"][a]  # its last task failed
    assert alpha_last < alpha_before and beta_last > beta_before, state["last_updates"][a]


def _all_settled(state: dict[str, Any], answered: int) -> bool:
    statuses = list(state["tasks"].values())
    return len(statuses) >= answered and all(s == SETTLED for s in statuses)
