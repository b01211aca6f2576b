"""The wallet commands on a real chain (anvil): stake, credits, the escrow and refunds, each printing what
it did with its transaction, and refusing with the contract's typed error and what to do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner
from web3 import Web3

from llmnet.chain.deploy import Deployment, DeploymentBook
from llmnet.chain.network import dev_account
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.cli.main import full_app
from llmnet.config import load_settings
from llmnet.errors import (
    AlreadyRefunded,
    CooldownActive,
    DeadlineNotReached,
    NotDeployed,
    NothingToWithdraw,
    UnknownProvider,
    WrongChain,
)
from llmnet.keys import create_keystore
from llmnet.types import ETHER, ZERO_HASH, Payout, ProviderProfile, SettlementBatch
from tests.conftest import TEST_PARAMS, advance_time

pytestmark = pytest.mark.integration

Cli = Callable[..., Result]
FEE = ETHER // 1000


@pytest.fixture
def cli(tmp_path: Path, anvil_url: str, deployment: Deployment) -> Cli:
    data_dir = tmp_path / "data"
    DeploymentBook(load_settings(data_dir=data_dir).deployments_file).record(deployment)
    env = {"LLMNET_DATA_DIR": str(data_dir), "LLMNET_RPC_URL": anvil_url, "COLUMNS": "250",
           "LLMNET_KEYSTORE_PASSWORD": "pw", "LLMNET_PRIVATE_KEY": None, "LLMNET_KEYSTORE": None}  # fmt: skip

    def run(*args: str) -> Result:
        return CliRunner().invoke(full_app(), list(args), env=env)

    return run


@pytest.fixture
def anvil_url(w3: Web3) -> str:
    return str(w3.provider.endpoint_uri)  # type: ignore[attr-defined]


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def refused(result: Result, error: type[Exception], says: str) -> None:
    assert type(result.exception) is error, (result.output, result.exception)
    assert says in str(result.exception)


def test_a_validator_adds_unstakes_and_withdraws_its_stake(ledger: Web3Ledger, w3: Web3, cli: Cli,
                                                            tmp_path: Path) -> None:  # fmt: skip
    v = dev_account(6)
    keystore = tmp_path / "validator.json"
    create_keystore(keystore, "pw", v.key.hex(), kdf="pbkdf2", kdf_iterations=16)
    refused(cli("stake", "add", "0.1", "--keystore", str(keystore)), UnknownProvider, "llmnet serve")
    minimum = ledger.validator_min_stake
    ledger.register_validator("http://127.0.0.1:9", "judge-x", ZERO_HASH, minimum, v)
    added = ok(cli("stake", "add", "0.1", "--keystore", str(keystore)))
    assert "added 0.1 ETH of validator stake: 0.2 ETH staked" in added and "tx 0x" in added
    assert ledger.get_validator(v.address).stake == 2 * minimum
    assert "0.1 ETH stays staked" in ok(cli("stake", "unstake", "0.1", "--keystore", str(keystore)))
    refused(cli("stake", "withdraw", "--keystore", str(keystore)), CooldownActive, "unstaking becomes withdrawable in ")
    listed = ok(cli("validators", "list"))
    assert v.address in listed and "judge-x" in listed and "0.1 ETH until" in listed
    advance_time(w3, TEST_PARAMS.cooldown)
    assert "withdrew 0.1 ETH of validator stake" in ok(cli("stake", "withdraw", "--keystore", str(keystore)))
    refused(cli("stake", "withdraw", "--keystore", str(keystore)), NothingToWithdraw, "is unstaking")
    refused(cli("stake", "show", "--keystore", str(keystore), "--chain-id", "1"), WrongChain, "not chain 1")


def test_a_respondent_adds_stake_and_withdraws_its_credits(ledger: Web3Ledger, cli: Cli) -> None:
    p, requester = dev_account(1), dev_account(5)
    profile = ProviderProfile(endpoint="http://127.0.0.1:9001", domains=("general",), model_id="m")
    ledger.register_provider(profile, ledger.min_stake, p)
    ledger.set_settler(dev_account(0).address, True, dev_account(0))
    task = ledger.open_task("general", "0x" + "11" * 32, 1, ledger.pending_time() + 600, FEE, requester).value
    assert task is not None
    ledger.settle_batch(SettlementBatch((task,), (Payout(p.address, FEE),), (), ZERO_HASH), dev_account(0))
    assert "0.2 ETH staked" in ok(cli("stake", "add", "0.1", "--as", "respondent", "--dev", "1"))
    assert "as respondent: 0.2 ETH staked (minimum 0.1 ETH)" in ok(cli("stake", "show", "--dev", "1"))
    assert "0.001 ETH of credits to withdraw" in ok(cli("credits", "show", p.address))
    assert "withdrew 0.001 ETH of credits" in ok(cli("credits", "withdraw", "--dev", "1"))
    assert ledger.credits_of(p.address) == 0
    refused(cli("credits", "withdraw", "--dev", "1"), NothingToWithdraw, "earned no credits yet")


def test_a_requester_deposits_approves_withdraws_and_refunds_an_expired_task(ledger: Web3Ledger, w3: Web3,
                                                                              cli: Cli) -> None:  # fmt: skip
    other, coordinator = dev_account(5), dev_account(4).address
    task = ledger.open_task("general", "0x" + "22" * 32, 1, ledger.pending_time() + 60, FEE, other).value
    assert task is not None
    assert "0.2 ETH deposited" in ok(cli("escrow", "deposit", "0.2", "--dev", "3"))
    assert coordinator in ok(cli("escrow", "approve", coordinator, "0.1", "--dev", "3"))
    assert "(0.15 ETH stays)" in ok(cli("escrow", "withdraw", "0.05", "--dev", "3"))
    shown = ok(cli("escrow", "show", "--coordinator", coordinator, "--dev", "3"))
    assert "0.15 ETH deposited" in shown and "up to 0.1 ETH" in shown
    requester = dev_account(3).address
    assert (ledger.deposit_of(requester), ledger.allowance(requester, coordinator)) == (15 * ETHER // 100, ETHER // 10)
    refused(cli("escrow", "refund", str(task), "--dev", "3"), DeadlineNotReached, "refund it in")
    advance_time(w3, 61)
    assert f"back in {other.address}'s deposit" in ok(cli("escrow", "refund", str(task), "--dev", "3"))
    assert ledger.deposit_of(other.address) == FEE
    refused(cli("escrow", "refund", str(task), "--dev", "3"), AlreadyRefunded, "back in the deposit already")


def test_a_coordinator_adds_stake_from_the_cli(ledger: Web3Ledger, cli: Cli) -> None:
    coordinator = dev_account(7)
    ledger.register_coordinator("http://127.0.0.1:8300", ledger.validator_min_stake, coordinator)
    assert "added 0.1 ETH of coordinator stake: 0.2 ETH staked" in ok(cli("stake", "add", "0.1", "--dev", "7"))
    assert ledger.get_coordinator(coordinator.address).stake == 2 * ledger.validator_min_stake


def test_the_deployment_address_alone_names_the_contracts(ledger: Web3Ledger, anvil_url: str, tmp_path: Path) -> None:
    env = {"LLMNET_DATA_DIR": str(tmp_path / "nothing-recorded"), "LLMNET_RPC_URL": anvil_url, "COLUMNS": "250"}

    def run(*args: str) -> Result:
        return CliRunner().invoke(full_app(), list(args), env=env)

    refused(run("escrow", "deposit", "0.01", "--dev", "2"), NotDeployed, "no llmnet contracts recorded")
    escrow = ledger.deployment.escrow
    assert "0.01 ETH deposited" in ok(run("escrow", "deposit", "0.01", "--dev", "2", "--deployment", escrow))
    assert ledger.deposit_of(dev_account(2).address) == ETHER // 100
    assert "validators on chain" in ok(run("validators", "list", "--deployment", escrow))
