"""Reach the chain llmnet is configured for: the embedded node or any RPC URL."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount
from web3 import Web3

from llmnet.chain.deploy import DeploymentBook, DeployParams, deploy_contracts
from llmnet.chain.node import LocalNode, node_answers
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.config import Settings
from llmnet.errors import ChainUnavailable, ConfigError

# anvil's public development mnemonic: its accounts are funded on every local anvil
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_CHAIN_IDS = frozenset({1337, 31337})


@cache
def dev_account(index: int) -> LocalAccount:
    """Account ``index`` of the development mnemonic (never use on a public chain)."""
    EthAccount.enable_unaudited_hdwallet_features()
    return EthAccount.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def embedded_node(settings: Settings) -> LocalNode:
    return LocalNode(
        settings.chain_dir, port=settings.chain_port, anvil_path=settings.anvil_path, retention=settings.chain_retention
    )


def chain_url(settings: Settings, *, start: bool = False) -> str:
    """The RPC URL to use; with ``start``, bring the embedded node up if it is down."""
    if settings.rpc_url:
        return settings.rpc_url
    node = embedded_node(settings)
    if not node_answers(node.url):
        if not start:
            raise ChainUnavailable(f"the embedded node at {node.url} is not running; start it with `llmnet chain up`")
        node.start(detach=True)
    return node.url


def connect(url: str) -> Web3:
    if not node_answers(url):
        raise ChainUnavailable(f"no Ethereum node answers at {url}; check the URL or start one (`llmnet chain up`)")
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    # llmnet signs every transaction itself with explicit chain id, fees, gas and nonce, and never
    # uses ENS names; these layers only add work to each call (validation reads eth_chainId every time).
    for name in ("validation", "ens_name_to_address", "gas_price_strategy", "gas_estimate"):
        w3.middleware_onion.remove(name)
    return w3


def governance_account(w3: Web3) -> LocalAccount:
    """The deploying/governance key: $LLMNET_PRIVATE_KEY or keystore, else the dev key on a dev chain."""
    return configured_account(w3, dev_index=0)


def configured_account(w3: Web3, dev_index: int) -> LocalAccount:
    """$LLMNET_PRIVATE_KEY or $LLMNET_KEYSTORE; on a dev chain, development account ``dev_index``."""
    if os.environ.get("LLMNET_PRIVATE_KEY") or os.environ.get("LLMNET_KEYSTORE"):
        from llmnet.keys import load_account

        keystore = os.environ.get("LLMNET_KEYSTORE")
        return load_account(keystore=Path(keystore) if keystore else None)
    chain_id = w3.eth.chain_id
    if chain_id in DEV_CHAIN_IDS:
        return dev_account(dev_index)
    raise ConfigError(
        f"chain {chain_id} is not a local development chain: set LLMNET_PRIVATE_KEY or "
        "LLMNET_KEYSTORE (with LLMNET_KEYSTORE_PASSWORD) to the account to use"
    )


def deploy_params(settings: Settings) -> DeployParams:
    return DeployParams(
        min_stake=settings.min_stake_wei,
        cooldown=settings.unstake_cooldown_s,
        decay=settings.reputation_decay,
        domains=settings.domains,
    )


def deploy(settings: Settings, w3: Web3) -> Web3Ledger:
    deployment = deploy_contracts(w3, governance_account(w3), deploy_params(settings))
    DeploymentBook(settings.deployments_file).record(deployment)
    return Web3Ledger(w3, deployment)


def open_ledger(settings: Settings, *, start: bool = False, deploy_missing: bool = False) -> Web3Ledger:
    """A ledger on the configured chain; optionally start the node and deploy if needed."""
    w3 = connect(chain_url(settings, start=start))
    book = DeploymentBook(settings.deployments_file)
    try:
        return Web3Ledger(w3, book.find(w3))
    except ConfigError:
        raise
    except Exception:
        if not deploy_missing:
            raise
    return deploy(settings, w3)
