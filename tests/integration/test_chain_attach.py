"""`llmnet chain attach`: an operator who shares nothing with the deployer but the RPC URL and the
deployment's address records it, and every other command then works against that chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmnet.chain.network import dev_account
from llmnet.chain.node import LocalNode
from tests.conftest import free_port
from tests.integration.test_cli_chain import llmnet

pytestmark = pytest.mark.integration


def test_attach_records_a_deployment_from_its_address_and_other_commands_use_it(tmp_path: Path) -> None:
    node = LocalNode(tmp_path / "n", port=free_port(), chain_id=31337)
    node.start()
    try:
        deployer, operator = tmp_path / "deployer", tmp_path / "operator"
        assert llmnet(deployer, "chain", "deploy", "--rpc-url", node.url, "--domain", "law").returncode == 0
        deployed = json.loads((deployer / "deployments.json").read_text())["31337"]
        escrow = deployed["escrow"]
        out = llmnet(operator, "chain", "attach", "--rpc-url", node.url, "--deployment", escrow.lower())
        assert out.returncode == 0, out.stderr
        assert "attached" in out.stdout and deployed["validator_book"] in out.stdout and "law" in out.stdout
        assert json.loads((operator / "deployments.json").read_text())["31337"] == deployed
        register = llmnet(operator, "providers", "register", "--rpc-url", node.url, "--endpoint", "http://10.0.0.5:9",
                          "--model-id", "m", "--domain", "law", "--dev-account", "6")  # fmt: skip
        assert register.returncode == 0, register.stderr
        listed = llmnet(deployer, "providers", "list", "--rpc-url", node.url)
        assert dev_account(6).address in listed.stdout  # the deployer sees what the operator did
    finally:
        node.stop()


def test_attach_to_an_address_that_is_not_a_deployment_says_what_is_wrong(tmp_path: Path) -> None:
    node = LocalNode(tmp_path / "n", port=free_port(), chain_id=31337)
    node.start()
    try:
        nobody = dev_account(3).address
        out = llmnet(tmp_path, "chain", "attach", "--rpc-url", node.url, "--deployment", nobody)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert out.stderr.startswith(f"error: there is no contract at {nobody} on chain 31337")
        assert not (tmp_path / "deployments.json").exists()
        malformed = llmnet(tmp_path, "chain", "attach", "--rpc-url", node.url, "--deployment", "0x12")
        assert malformed.returncode == 1 and "'0x12' is not an Ethereum address" in malformed.stderr
    finally:
        node.stop()
