"""The CLI against real nodes: a separately started anvil, and the embedded one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from web3 import Web3

from llmnet.chain.deploy import DeploymentBook
from llmnet.chain.network import dev_account
from llmnet.chain.node import LocalNode
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.types import ETHER, ProviderProfile
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def llmnet(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMNET_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    env.pop("LLMNET_RPC_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "llmnet.cli.main", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_deploy_to_a_separate_anvil_and_list_providers(tmp_path: Path) -> None:
    node = LocalNode(tmp_path / "separate", port=free_port(), chain_id=31337)
    node.start()
    try:
        data = tmp_path / "data"
        out = llmnet(data, "chain", "deploy", "--rpc-url", node.url, "--domain", "general", "--domain", "law")
        assert out.returncode == 0, out.stderr
        assert "deployed" in out.stdout and "general, law" in out.stdout
        w3 = Web3(Web3.HTTPProvider(node.url))
        ledger = Web3Ledger(w3, DeploymentBook(data / "deployments.json").find(w3))
        profile = ProviderProfile(
            endpoint="http://127.0.0.1:9101", domains=("law",), model_id="smollm2-135m", licence="Apache-2.0"
        )
        ledger.register_provider(profile, ETHER, dev_account(4))
        listed = llmnet(data, "providers", "list", "--rpc-url", node.url, "--domain", "law")
        assert listed.returncode == 0, listed.stderr
        assert dev_account(4).address in listed.stdout
        assert "http://127.0.0.1:9101" in listed.stdout and "1 ETH" in listed.stdout
        again = llmnet(data, "chain", "deploy", "--rpc-url", node.url)
        assert "already deployed" in again.stdout
    finally:
        node.stop()


def test_register_through_the_cli_and_bad_input(tmp_path: Path) -> None:
    node = LocalNode(tmp_path / "n", port=free_port(), chain_id=31337)
    node.start()
    try:
        data = tmp_path / "data"
        assert llmnet(data, "chain", "deploy", "--rpc-url", node.url).returncode == 0
        base = [
            "providers",
            "register",
            "--rpc-url",
            node.url,
            "--endpoint",
            "http://127.0.0.1:9",
            "--model-id",
            "m",
        ]
        low = llmnet(data, *base, "--domain", "law", "--stake", "0.01", "--dev-account", "6")
        assert low.returncode == 1 and "stake below the minimum" in low.stderr
        unknown = llmnet(data, *base, "--domain", "cooking", "--dev-account", "6")
        assert unknown.returncode == 1 and "unknown domain" in unknown.stderr and "cooking" in unknown.stderr
        ok = llmnet(data, *base, "--domain", "law", "--stake", "0.5", "--dev-account", "6")
        assert ok.returncode == 0, ok.stderr
        listed = llmnet(data, "providers", "list", "--rpc-url", node.url)
        assert dev_account(6).address in listed.stdout and "0.5 ETH" in listed.stdout
    finally:
        node.stop()


def test_cli_errors_are_one_clear_line(tmp_path: Path) -> None:
    port = free_port()
    out = llmnet(tmp_path, "providers", "list", "--rpc-url", f"http://127.0.0.1:{port}")
    assert out.returncode == 1
    assert out.stderr.startswith("error: no Ethereum node answers at")
    assert "Traceback" not in out.stderr


def test_chain_up_status_down_with_the_embedded_node(tmp_path: Path) -> None:
    port = str(free_port())
    try:
        up = llmnet(tmp_path, "chain", "up", "--port", port)
        assert up.returncode == 0, up.stderr
        assert "1337" in up.stdout and "general, medicine, law, astronomy, code" in up.stdout
        status = llmnet(tmp_path, "chain", "status", "--port", port)
        assert status.returncode == 0 and "escrow" in status.stdout
    finally:
        down = llmnet(tmp_path, "chain", "down", "--port", port)
    assert "stopped" in down.stdout
    assert (tmp_path / "chain" / "state.json").exists()  # state kept for the next `up`
    after = llmnet(tmp_path, "chain", "status", "--port", port)
    assert after.returncode == 1 and "not running" in after.stderr


def test_keys_create_escrows_a_deposit_and_maps_the_key(tmp_path: Path) -> None:
    from llmnet.api.keys import KeyBook
    from llmnet.launcher import COORDINATOR_DEV

    node = LocalNode(tmp_path / "n", port=free_port(), chain_id=31337)
    node.start()
    try:
        data = tmp_path / "data"
        assert llmnet(data, "chain", "deploy", "--rpc-url", node.url).returncode == 0
        no_password = llmnet(data, "keys", "create", "alice", "--rpc-url", node.url)
        assert no_password.returncode == 1 and "LLMNET_KEYSTORE_PASSWORD" in no_password.stderr
        os.environ["LLMNET_KEYSTORE_PASSWORD"] = "correct horse"
        try:
            out = llmnet(data, "keys", "create", "alice", "--deposit", "0.25", "--rpc-url", node.url)
        finally:
            del os.environ["LLMNET_KEYSTORE_PASSWORD"]
        assert out.returncode == 0, out.stderr
        api_key = next(w for w in out.stdout.split() if w.startswith("sk-llmnet-"))
        address = KeyBook(data / "network" / "state" / "keys.sqlite").account_for(f"Bearer {api_key}")
        w3 = Web3(Web3.HTTPProvider(node.url))
        ledger = Web3Ledger(w3, DeploymentBook(data / "deployments.json").find(w3))
        assert ledger.deposit_of(address) == ETHER // 4
        assert ledger.allowance(address, dev_account(COORDINATOR_DEV).address) == ETHER // 4
        assert (data / "keys" / "alice.json").exists() and "correct horse" not in out.stdout
    finally:
        node.stop()


def test_ask_without_a_coordinator_is_one_clear_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    out = llmnet(tmp_path, "ask", "hello?", "--url", url, "--key", "sk-llmnet-x")
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: no coordinator answers at {url}")
    assert "Traceback" not in out.stderr


def test_governance_adds_a_domain_with_its_card_and_lets_a_validator_settle(tmp_path: Path) -> None:
    node = LocalNode(tmp_path / "gov", port=free_port(), chain_id=31337)
    node.start()
    try:
        data = tmp_path / "data"
        assert llmnet(data, "chain", "deploy", "--rpc-url", node.url).returncode == 0
        added = llmnet(data, "domains", "add", "glassblowing", "--description", "Furnaces, glass and the craft",
                       "--rpc-url", node.url)  # fmt: skip
        assert added.returncode == 0, added.stderr
        w3 = Web3(Web3.HTTPProvider(node.url))
        ledger = Web3Ledger(w3, DeploymentBook(data / "deployments.json").find(w3))
        assert "glassblowing" in ledger.domains()
        card = next(c for c in ledger.domain_cards() if c.domain == "glassblowing")
        assert card.description == "Furnaces, glass and the craft"
        again = llmnet(data, "domains", "add", "glassblowing", "--description", "x", "--rpc-url", node.url)
        assert again.returncode == 1 and "already on chain" in again.stderr
        bad = llmnet(data, "domains", "add", "Glass Blowing", "--description", "x", "--rpc-url", node.url)
        assert bad.returncode == 1 and "Glass Blowing" in bad.stderr
        assert ledger.domains().count("glassblowing") == 1

        who = dev_account(12).address
        assert not ledger.is_settler(who)
        assert llmnet(data, "chain", "settlers", "add", who, "--rpc-url", node.url).returncode == 0
        assert ledger.is_settler(who)
        listed = llmnet(data, "chain", "settlers", "--rpc-url", node.url)
        assert who in listed.stdout
        assert llmnet(data, "chain", "settlers", "remove", who, "--rpc-url", node.url).returncode == 0
        assert not ledger.is_settler(who)
        wrong = llmnet(data, "chain", "settlers", "add", "0x1234", "--rpc-url", node.url)
        assert wrong.returncode == 1 and "not an Ethereum address" in wrong.stderr

        keystore = tmp_path / "alice.json"
        made = subprocess.run([sys.executable, "-m", "llmnet.cli.main", "keys", "new", str(keystore)], text=True,
                              capture_output=True, env={**os.environ, "LLMNET_KEYSTORE_PASSWORD": "pw"})  # fmt: skip
        assert made.returncode == 0, made.stderr
        alice = Web3.to_checksum_address("0x" + json.loads(keystore.read_text())["address"])
        assert alice in made.stdout and ledger.balance_of(alice) == 0
        assert llmnet(data, "chain", "faucet", alice, "--amount", "1.5", "--rpc-url", node.url).returncode == 0
        assert ledger.balance_of(alice) == 3 * ETHER // 2
        too_much = llmnet(data, "chain", "faucet", alice, "--amount", "5000", "--rpc-url", node.url)
        assert too_much.returncode == 1 and "at most 1000 ETH" in too_much.stderr
    finally:
        node.stop()
