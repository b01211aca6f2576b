"""A requester with a fresh account signs in at a real coordinator (on anvil) for an API key, escrows
fees from the CLI, and is answered; the coordinator refuses a replayed, foreign-chain or forged sign-in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from typer.testing import CliRunner

from llmnet.api.auth import NonceGrant, sign_in_message
from llmnet.api.siwe import siwe_digest
from llmnet.chain.network import dev_account
from llmnet.cli.main import full_app
from llmnet.keys import create_keystore
from llmnet.launcher import Network, RespondentPlan
from llmnet.signing import sign_digest
from llmnet.types import ETHER
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    respondents = (RespondentPlan("fake-a", ("general",), backend="fake", options={"model_id": "fake-echo"}),)
    with running_network(tmp_path_factory.mktemp("login"), respondents, judge="fake", k=1, validators=1,
                         rate=False, gold_rate=0.0) as network:  # fmt: skip
        yield network


def coordinator_url(net: Network) -> str:
    return f"http://127.0.0.1:{net.options.coordinator_port}"


def llmnet(net: Network, data_dir: Path, *args: str) -> str:
    assert net.ledger is not None
    env = {"LLMNET_DATA_DIR": str(data_dir), "LLMNET_RPC_URL": str(net.ledger.w3.provider.endpoint_uri),  # type: ignore[attr-defined]
           "LLMNET_KEYSTORE_PASSWORD": "pw", "LLMNET_PRIVATE_KEY": None, "COLUMNS": "250"}  # fmt: skip
    result = CliRunner().invoke(full_app(), list(args), env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def ask(net: Network, key: str) -> httpx.Response:
    body = {"model": "llmnet/general", "messages": [{"role": "user", "content": "What is 2 + 2?"}]}
    return httpx.post(f"{net.base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"},
                      timeout=60)  # fmt: skip


def test_a_new_account_signs_in_escrows_from_the_cli_and_is_answered(net: Network, tmp_path: Path) -> None:
    assert net.ledger is not None
    alice = Account.create()
    keystore = tmp_path / "alice.json"
    create_keystore(keystore, "pw", alice.key.hex(), kdf="pbkdf2", kdf_iterations=16)
    net.ledger.w3.eth.send_transaction({"from": dev_account(0).address, "to": alice.address, "value": ETHER})  # type: ignore[typeddict-item]
    home = tmp_path / "home"
    out = llmnet(net, home, "keys", "login", "--coordinator", coordinator_url(net) + "/v1", "--keystore", str(keystore))
    assert f"as {alice.address}" in out
    key = (home / "api-keys" / f"127.0.0.1_{net.options.coordinator_port}.key").read_text().strip()
    assert key.startswith("sk-llmnet-") and key in out
    unpaid = ask(net, key)
    assert unpaid.status_code == 402 and "llmnet escrow deposit" in unpaid.json()["error"]["message"]
    coordinator = httpx.get(f"{coordinator_url(net)}/health", timeout=10).json()["address"]
    chain = net.settings.data_dir  # where `llmnet up` recorded the deployment
    llmnet(net, chain, "escrow", "deposit", "0.05", "--keystore", str(keystore))
    llmnet(net, chain, "escrow", "approve", coordinator, "0.05", "--keystore", str(keystore))
    deadline = time.monotonic() + 15  # the coordinator reads funds through its directory, refreshed every 2 s
    while (answered := ask(net, key)).status_code == 402 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["choices"][0]["message"]["content"]
    assert body["llmnet"]["receipt"]["requester"] == alice.address
    # `llmnet ask` finds the key login kept for this coordinator: no --key, no environment variable
    said = llmnet(net, home, "ask", "What is 2 + 2?", "--url", net.base_url)
    assert "task 0x" in said


def login(net: Network, text: str, signature: str) -> httpx.Response:
    return httpx.post(f"{coordinator_url(net)}/v1/auth/login", json={"message": text, "signature": signature},
                      timeout=10)  # fmt: skip


def test_the_coordinator_refuses_replayed_foreign_chain_and_forged_sign_ins(net: Network) -> None:
    bob, mallory = Account.create(), Account.create()
    url = coordinator_url(net)
    assert net.ledger is not None
    grant_chain = net.ledger.chain_id

    def message(**changes: object) -> str:
        grant = NonceGrant.model_validate(httpx.get(f"{url}/v1/auth/nonce", timeout=10).json())
        assert net.ledger is not None and grant.chain_id == net.ledger.chain_id
        return sign_in_message(url, grant, bob.address, time.time()).model_copy(update=changes).text()

    text = message()
    signature = sign_digest(siwe_digest(text), bob)
    first = login(net, text, signature)
    assert first.status_code == 200 and first.json()["address"] == bob.address
    replay = login(net, text, signature)
    assert replay.status_code == 401 and "was used already" in replay.json()["error"]["message"]
    foreign = message(chain_id=1)
    refused = login(net, foreign, sign_digest(siwe_digest(foreign), bob))
    assert refused.status_code == 401 and f"serves chain {grant_chain}" in refused.json()["error"]["message"]
    forged = message()
    refused = login(net, forged, sign_digest(siwe_digest(forged), mallory))
    assert refused.status_code == 403 and f"signed by {mallory.address}" in refused.json()["error"]["message"]
    models = httpx.get(f"{net.base_url}/models", headers={"Authorization": f"Bearer {first.json()['api_key']}"},
                       timeout=10)  # fmt: skip
    assert models.status_code == 200
