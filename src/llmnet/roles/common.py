"""What every service process needs: its account, its chain, its signing domain."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import TypeVar

from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, Field, model_validator
from web3 import Web3

from llmnet.api.server import HttpLimits
from llmnet.chain.deploy import DeploymentBook, resolve_deployment
from llmnet.chain.network import connect, dev_account
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import ConfigError, KeystoreError, SignatureError
from llmnet.signing import SignedMessage, SigningDomain, TypedMessage, verify


class AccountSpec(BaseModel):
    """A development account by index, or an encrypted keystore whose password is read from the
    environment variable ``password_env`` ($LLMNET_KEYSTORE_PASSWORD when unset) or from the first
    line of ``password_file``."""

    dev_index: int | None = None
    keystore: Path | None = None
    password_env: str | None = None
    password_file: Path | None = None

    def load(self) -> LocalAccount:
        if self.keystore is not None:
            from llmnet.keys import load_account

            return load_account(keystore=self.keystore, password=self.password())
        if self.dev_index is not None:
            return dev_account(self.dev_index)
        raise ConfigError("an account needs either dev_index or keystore")

    def password(self) -> str | None:
        """The keystore's password from its source; None: load_account reads $LLMNET_KEYSTORE_PASSWORD."""
        if self.password_file is not None:
            return read_password_file(self.password_file)
        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise KeystoreError(
                f"the password of keystore {self.keystore} is read from ${self.password_env}, which is not set; "
                "export it, or name a password_file"
            )
        return value


def read_password_file(path: Path) -> str:
    """The first line of ``path``: a password kept in a file (mode 0600, or a mounted secret)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise KeystoreError(f"cannot read the password file {path}: {exc.strerror}; check the path") from None
    if not lines or not lines[0]:
        raise KeystoreError(f"the password file {path} is empty; write the keystore's password on its first line")
    return lines[0]


class ChainSpec(BaseModel):
    """The chain a service works on: its RPC URL and the deployment, named either by the escrow's
    address (the other contracts are read from it and checked, see
    :func:`llmnet.chain.deploy.resolve_deployment`) or by a deployments file that
    `llmnet chain deploy` or `llmnet chain attach` recorded. Exactly one of the two."""

    rpc_url: str
    deployments_file: Path | None = None
    deployment: str | None = None  # the TaskEscrow's address

    @model_validator(mode="after")
    def _one_deployment(self) -> ChainSpec:
        if (self.deployment is None) == (self.deployments_file is None):
            given = "both" if self.deployment is not None else "neither"
            raise ValueError(
                f"a chain spec names its deployment by exactly one of deployment (the escrow's address) and "
                f"deployments_file, and {given} was given; set deployment to the address `llmnet chain status` "
                "shows as the escrow"
            )
        return self

    def ledger(self) -> Web3Ledger:
        w3: Web3 = connect(self.rpc_url)
        if self.deployment is not None:
            return Web3Ledger(w3, resolve_deployment(w3, self.deployment))
        assert self.deployments_file is not None  # the validator above
        return Web3Ledger(w3, DeploymentBook(self.deployments_file).find(w3))


class ServiceSpec(BaseModel):
    name: str
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    account: AccountSpec
    chain: ChainSpec
    data_dir: Path
    http: HttpLimits = Field(default_factory=HttpLimits)  # read deadlines and size limits of its HTTP server
    # the URL others reach it at, registered on chain: it differs from host:port behind NAT or in a container
    public_url: str | None = None

    @property
    def url(self) -> str:
        """The service's public URL: ``public_url``, else where it listens."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://[{self.host}]:{self.port}" if ":" in self.host else f"http://{self.host}:{self.port}"


def deployment_dir(data_dir: Path, ledger: Web3Ledger) -> Path:
    """Where a service keeps state that belongs to one deployment (task books, settlement
    queues, outboxes). A fresh chain redeployed by the same account gets the same contract
    addresses, so the genesis hash is part of the name: state from one chain is never
    read, replayed or matched by task id on another."""
    d = ledger.deployment
    return data_dir / f"chain-{d.chain_id}-{d.genesis_hash[2:12]}-{d.escrow[2:10].lower()}"


def ready_to_serve() -> None:
    """Called once a service has started: what start-up allocated (models, contracts, caches)
    lives for the whole process, so it moves out of the garbage collector's sight instead of
    being traversed again by every full collection while requests are served."""
    gc.collect()
    gc.freeze()


def signing_domain(ledger: Web3Ledger) -> SigningDomain:
    """Signatures are bound to this chain and this escrow contract."""
    return SigningDomain(chain_id=ledger.chain_id, verifying_contract=ledger.deployment.escrow)


M = TypeVar("M", bound=TypedMessage)


def verified(
    data: dict[str, object], cls: type[M], domain: SigningDomain, trusted: frozenset[str] | None = None
) -> SignedMessage[M]:
    """Parse and verify a signed message; with ``trusted``, its signer must be one of them."""
    signed = SignedMessage.from_dict(data, cls)
    signer = verify(signed, domain)
    if trusted is not None and signer not in trusted:
        raise SignatureError(f"{cls.__name__} signed by {signer}, which is not a trusted signer here")
    return signed
