"""Sign-In with Ethereum for API keys: the message format, and every way the coordinator refuses a
sign-in (malformed, replayed nonce, expired, wrong chain, wrong host, wrong signer), in process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from fastapi.testclient import TestClient

from llmnet.api.auth import LoginDesk, NonceGrant, fetch_nonce, install_auth, redeem, sign_in_message
from llmnet.api.errors import install_error_handlers
from llmnet.api.keys import KeyBook
from llmnet.api.siwe import SiweMessage, siwe_digest
from llmnet.chain.network import dev_account
from llmnet.errors import InputError
from llmnet.signing import sign_digest

ALICE, MALLORY, COORDINATOR = dev_account(3), dev_account(4), dev_account(5)
CHAIN = 8453
URL = "http://testserver"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(tmp_path: Path, clock: Clock) -> KeyBook:
    return KeyBook(tmp_path / "keys.sqlite", clock=clock)


@pytest.fixture
def http(keys: KeyBook, clock: Clock) -> Iterator[TestClient]:
    desk = LoginDesk(keys, CHAIN, COORDINATOR.address, clock=clock)
    app = FastAPI()
    install_error_handlers(app)
    install_auth(app, lambda: desk)
    with TestClient(app, base_url=URL) as client:
        yield client


def signed(message: SiweMessage, account: LocalAccount = ALICE) -> dict[str, str]:
    text = message.text()
    return {"message": text, "signature": sign_digest(siwe_digest(text), account)}


def fresh_message(http: TestClient, **changes: Any) -> SiweMessage:
    grant = NonceGrant.model_validate(http.get("/v1/auth/nonce").json())
    return sign_in_message(URL, grant, ALICE.address, T0).model_copy(update=changes)


def refusal(http: TestClient, body: dict[str, str], status: int) -> str:
    reply = http.post("/v1/auth/login", json=body)
    assert reply.status_code == status, reply.text
    return str(reply.json()["error"]["message"])


# ------------------------------------------------------------------ the message


def test_a_message_reads_back_as_written_with_and_without_optional_lines() -> None:
    now = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    full = SiweMessage(domain="coord.example:8300", address=ALICE.address, statement="Sign in.",
                       uri="https://coord.example:8300/v1", chain_id=1, nonce="abcdef0123456789", issued_at=now,
                       expiration_time=now + timedelta(minutes=5), not_before=now, request_id="r-1",
                       resources=("https://coord.example:8300/tasks", "ipfs://x"))  # fmt: skip
    bare = SiweMessage(domain="10.0.0.5", address=ALICE.address, uri="http://10.0.0.5", chain_id=31337,
                       nonce="ABCDEFGH", issued_at=now)  # fmt: skip
    for message in (full, bare):
        assert SiweMessage.parse(message.text()) == message
    assert bare.text().splitlines()[:4] == ["10.0.0.5 wants you to sign in with your Ethereum account:",
                                            ALICE.address, "", ""]  # fmt: skip
    assert "Issued At: 2026-12-07T09:30:00Z\nExpiration Time: 2026-12-07T09:35:00Z" in full.text()


@pytest.mark.parametrize(
    ("mangle", "error"),
    [
        (lambda t: t.replace("wants you to sign in", "would like you to sign in"), "not an EIP-4361 message"),
        (lambda t: t.replace(ALICE.address, ALICE.address.lower()), "not EIP-55 checksummed"),
        (lambda t: t.replace("Version: 1", "Version: 2"), "version 2 is not supported"),
        (lambda t: t.replace("Nonce: ", "Nonce: !"), "not an EIP-4361 message"),
        (lambda t: t.replace("Issued At: 2026-12-07T09:30:00Z", "Issued At: yesterday"), "not an RFC 3339 time"),
        (lambda t: t.replace("Issued At: 2026-12-07T09:30:00Z", "Issued At: 2026-12-07T09:30:00"), "with a zone"),
        (lambda t: t + "\nSomething: else", "not an EIP-4361 message"),
        (lambda t: t * 40, "over 4096 bytes"),
    ],
)
def test_a_malformed_message_is_refused_saying_what_does_not_fit(mangle: Any, error: str) -> None:
    now = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    text = SiweMessage(domain="h", address=ALICE.address, uri="http://h", chain_id=1, nonce="abcdefgh",
                       issued_at=now).text()  # fmt: skip
    with pytest.raises(InputError, match=error):
        SiweMessage.parse(mangle(text))


# ------------------------------------------------------------------ the coordinator's checks


def test_a_signed_in_account_gets_a_key_bound_to_it(http: TestClient, keys: KeyBook) -> None:
    grant = fetch_nonce(http, URL)
    assert (grant.chain_id, grant.coordinator) == (CHAIN, COORDINATOR.address)
    granted = redeem(http, URL, grant, ALICE, T0)
    assert granted.address == ALICE.address and granted.expires == pytest.approx(T0 + 30 * 86400)
    assert keys.account_for(f"Bearer {granted.api_key}") == ALICE.address
    assert keys.find(granted.key_id).name == f"login {ALICE.address}"


def test_a_nonce_is_accepted_once(http: TestClient) -> None:
    body = signed(fresh_message(http))
    assert http.post("/v1/auth/login", json=body).status_code == 200
    assert "was used already" in refusal(http, body, 401)


def test_a_nonce_the_coordinator_never_issued_is_refused(http: TestClient) -> None:
    assert "not issued by this coordinator" in refusal(http, signed(fresh_message(http, nonce="ffffffff00")), 401)


def test_a_nonce_expires_after_five_minutes(http: TestClient, clock: Clock) -> None:
    message = fresh_message(http, expiration_time=None)
    clock.now += 301
    assert "has expired (nonces last 300 s)" in refusal(http, signed(message), 401)


def test_an_expired_message_is_refused(http: TestClient, clock: Clock) -> None:
    message = fresh_message(http, expiration_time=datetime.fromtimestamp(T0 + 10, UTC))
    clock.now += 11
    assert "expired at" in refusal(http, signed(message), 401)


def test_a_message_issued_in_the_future_or_not_yet_valid_is_refused(http: TestClient) -> None:
    later = datetime.fromtimestamp(T0 + 600, UTC)
    assert "in the future" in refusal(http, signed(fresh_message(http, issued_at=later)), 401)
    assert "not valid before" in refusal(http, signed(fresh_message(http, not_before=later)), 401)


def test_a_message_for_another_chain_is_refused(http: TestClient) -> None:
    message = fresh_message(http, chain_id=1)
    assert "for chain 1, but this coordinator serves chain 8453" in refusal(http, signed(message), 401)


def test_a_message_for_another_host_is_refused(http: TestClient) -> None:
    other = fresh_message(http, domain="evil.example", uri="http://evil.example")
    assert "is for 'evil.example', but this coordinator was reached as 'testserver'" in refusal(
        http, signed(other), 401
    )
    off_host = fresh_message(http, uri="http://evil.example/login")
    assert "is not on its domain" in refusal(http, signed(off_host), 401)


def test_a_message_signed_by_another_account_is_refused_and_its_nonce_stays_usable(http: TestClient) -> None:
    message = fresh_message(http)
    error = refusal(http, signed(message, MALLORY), 403)
    assert f"names {ALICE.address} but was signed by {MALLORY.address}" in error
    assert http.post("/v1/auth/login", json=signed(message)).status_code == 200


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"message": "hello", "signature": "0x" + "11" * 65}, "not an EIP-4361 message"),
        ({"signature": "0x00"}, "message"),
    ],
)
def test_a_malformed_request_is_a_400(http: TestClient, body: dict[str, str], error: str) -> None:
    assert error in refusal(http, body, 400)


def test_a_malformed_signature_is_refused(http: TestClient) -> None:
    body = signed(fresh_message(http)) | {"signature": "0x1234"}
    assert "malformed signature" in refusal(http, body, 403)
