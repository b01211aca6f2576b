"""One address names a whole deployment: the escrow's. Everything else is read from it on chain
and checked, and anything that is not one llmnet deployment is refused with the address named."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from llmnet.chain.deploy import Deployment, DeploymentBook, deploy_contracts, resolve_deployment
from llmnet.chain.network import dev_account
from llmnet.errors import InputError, NotDeployed
from llmnet.roles.common import ChainSpec
from tests.conftest import TEST_PARAMS

pytestmark = pytest.mark.integration


def test_the_escrow_address_resolves_to_the_deployment_as_deployed(w3: Web3, deployment: Deployment) -> None:
    resolved = resolve_deployment(w3, deployment.escrow)
    assert resolved == deployment
    assert resolved.rankings != resolved.escrow and w3.eth.get_code(resolved.rankings)
    assert resolved.block_number <= w3.eth.block_number


def test_a_lower_case_address_resolves_too(w3: Web3, deployment: Deployment) -> None:
    assert resolve_deployment(w3, deployment.escrow.lower()).registry == deployment.registry


def test_an_address_without_code_is_not_a_deployment(w3: Web3) -> None:
    nobody = dev_account(7).address
    with pytest.raises(NotDeployed, match=f"no contract at {nobody}"):
        resolve_deployment(w3, nobody)


def test_another_llmnet_contract_is_not_an_escrow(w3: Web3, deployment: Deployment) -> None:
    with pytest.raises(NotDeployed, match=f"{deployment.registry} .* is not an llmnet escrow"):
        resolve_deployment(w3, deployment.registry)


def test_a_malformed_address_is_an_input_error(w3: Web3) -> None:
    with pytest.raises(InputError, match="'0x1234' is not an Ethereum address"):
        resolve_deployment(w3, "0x1234")


def test_contracts_that_do_not_point_back_are_not_one_deployment(w3: Web3) -> None:
    first = deploy_contracts(w3, dev_account(0), TEST_PARAMS)
    second = deploy_contracts(w3, dev_account(0), TEST_PARAMS)
    escrow = w3.eth.contract(address=Web3.to_checksum_address(first.escrow), abi=_escrow_abi())
    tx = escrow.functions.set_validator_book(second.validator_book, 2).transact({"from": dev_account(0).address})
    w3.eth.wait_for_transaction_receipt(tx)
    with pytest.raises(NotDeployed, match=f"validator book at {second.validator_book} points at escrow"):
        resolve_deployment(w3, first.escrow)


def test_a_chain_spec_names_its_deployment_by_address(w3: Web3, deployment: Deployment, tmp_path: Path) -> None:
    url = str(w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    by_address = ChainSpec(rpc_url=url, deployment=deployment.escrow).ledger()
    assert by_address.deployment == deployment
    DeploymentBook(tmp_path / "deployments.json").record(deployment)
    by_file = ChainSpec(rpc_url=url, deployments_file=tmp_path / "deployments.json").ledger()
    assert by_file.deployment == by_address.deployment


def _escrow_abi() -> list[dict[str, object]]:
    from llmnet.chain.artifacts import load_artifact

    abi: list[dict[str, object]] = load_artifact("TaskEscrow")["abi"]
    return abi
