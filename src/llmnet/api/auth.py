"""API keys for requesters on any chain: whoever proves control of an account gets a key bound to it.

    GET  /v1/auth/nonce   a fresh single-use nonce, with this coordinator's chain id and address
    POST /v1/auth/login   {"message": "<EIP-4361 text>", "signature": "0x…"} -> {"api_key": "sk-llmnet-…", …}

The requester signs a Sign-In with Ethereum message (:mod:`llmnet.api.siwe`) with its account.
Before minting a key the coordinator checks that the message names this coordinator (its domain is
the host the request was sent to, and its URI is on that host), this chain, and a nonce this
coordinator issued within ``NONCE_TTL_S`` and never accepted before; that it was issued no later
than now (``CLOCK_SKEW_S`` allowed), has not expired and is valid already (``Not Before``); and that
the signature is the named account's. A malformed message is a 400, a wrong signer a 403, anything
else a 401 naming what to fix. The key is valid for ``LOGIN_KEY_TTL_S`` and is bound to the
account: its tasks are paid from that account's escrowed deposit, within the allowance the account
gave this coordinator, which the escrow contract enforces (``llmnet escrow deposit`` and ``approve``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from eth_account.signers.local import LocalAccount
from fastapi import APIRouter, FastAPI, Header
from pydantic import BaseModel, Field

from llmnet.api.keys import KeyBook
from llmnet.api.siwe import MAX_MESSAGE_BYTES, SiweMessage, rfc3339, siwe_digest
from llmnet.errors import AuthenticationError, ConfigError, CoordinatorRefused, SignatureError
from llmnet.signing import recover_digest, sign_digest

NONCE_TTL_S = 300.0
CLOCK_SKEW_S = 60.0
LOGIN_KEY_TTL_S = 30 * 86400.0
MAX_PENDING_NONCES = 10_000
STATEMENT = "Sign in to get an llmnet API key for this account."


class NonceGrant(BaseModel):
    nonce: str
    chain_id: int
    coordinator: str  # the coordinator's account: the spender to approve in the escrow
    expires_at: str  # RFC 3339: sign in before this


class LoginRequest(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_BYTES)
    signature: str = Field(max_length=200)


class LoginGrant(BaseModel):
    api_key: str
    key_id: str
    address: str
    expires: float  # unix time


class NonceBook:
    """Nonces issued and not yet used, and the used ones until they would have expired anyway."""

    def __init__(self, ttl_s: float = NONCE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._issued: dict[str, float] = {}
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, now: float) -> str:
        nonce = secrets.token_hex(16)
        with self._lock:
            self._forget(now)
            if len(self._issued) >= MAX_PENDING_NONCES:
                raise AuthenticationError("too many sign-ins are pending; try again in a few minutes")
            self._issued[nonce] = now + self.ttl_s
        return nonce

    def take(self, nonce: str, now: float) -> None:
        """Accept ``nonce`` once; a replay, an unknown or an expired nonce is refused."""
        with self._lock:
            self._forget(now)
            if nonce in self._used:
                raise AuthenticationError(f"nonce {nonce} was used already: get a new one from /v1/auth/nonce")
            if nonce not in self._issued:
                raise AuthenticationError(
                    f"nonce {nonce} was not issued by this coordinator or has expired (nonces last "
                    f"{self.ttl_s:.0f} s): get a new one from /v1/auth/nonce"
                )
            self._used[nonce] = self._issued.pop(nonce)

    def _forget(self, now: float) -> None:
        for book in (self._issued, self._used):
            for nonce in [n for n, until in book.items() if until <= now]:
                del book[nonce]


def _authority(url: str) -> str:
    return urlsplit(url).netloc.lower()


class LoginDesk:
    """Issues nonces and turns a verified sign-in into an API key of ``keys``."""

    def __init__(self, keys: KeyBook, chain_id: int, coordinator: str, *, clock: Callable[[], float] = time.time,
                 key_ttl_s: float = LOGIN_KEY_TTL_S) -> None:  # fmt: skip
        self.keys, self.chain_id, self.coordinator = keys, chain_id, coordinator
        self.clock, self.key_ttl_s = clock, key_ttl_s
        self.nonces = NonceBook()

    def nonce(self) -> NonceGrant:
        now = self.clock()
        nonce = self.nonces.issue(now)
        expires = rfc3339(datetime.fromtimestamp(now + self.nonces.ttl_s, UTC))
        return NonceGrant(nonce=nonce, chain_id=self.chain_id, coordinator=self.coordinator, expires_at=expires)

    def login(self, request: LoginRequest, host: str) -> LoginGrant:
        message = SiweMessage.parse(request.message)
        self._check_audience(message, host)
        self._check_times(message, self.clock())
        signer = recover_digest(siwe_digest(request.message), request.signature)
        if signer != message.address:
            raise SignatureError(f"the sign-in message names {message.address} but was signed by {signer}; "
                                 "sign it with the account it names")  # fmt: skip
        self.nonces.take(message.nonce, self.clock())
        api_key = self.keys.create(f"login {message.address}", message.address, ttl_s=self.key_ttl_s)
        info = self.keys.find(api_key)
        return LoginGrant(api_key=api_key, key_id=info.key_id, address=info.address, expires=info.expires or 0.0)

    def _check_audience(self, message: SiweMessage, host: str) -> None:
        if message.domain.lower() != host.lower():
            raise AuthenticationError(f"the sign-in message is for {message.domain!r}, but this coordinator was "
                                      f"reached as {host!r}: sign a message naming {host!r} as its domain")  # fmt: skip
        if _authority(message.uri) != message.domain.lower():
            raise AuthenticationError(f"the sign-in message's URI {message.uri!r} is not on its domain "
                                      f"{message.domain!r}; use the coordinator's URL")  # fmt: skip
        if message.chain_id != self.chain_id:
            raise AuthenticationError(
                f"the sign-in message is for chain {message.chain_id}, but this coordinator serves chain "
                f"{self.chain_id}: sign one with Chain ID: {self.chain_id}"
            )

    def _check_times(self, message: SiweMessage, now: float) -> None:
        if message.issued_at.timestamp() > now + CLOCK_SKEW_S:
            raise AuthenticationError(f"the sign-in message was issued at {rfc3339(message.issued_at)}, in the "
                                      "future; check the clock of the signing machine")  # fmt: skip
        if message.expiration_time is not None and message.expiration_time.timestamp() <= now:
            raise AuthenticationError(f"the sign-in message expired at {rfc3339(message.expiration_time)}; "
                                      "sign a new one with a fresh nonce")  # fmt: skip
        if message.not_before is not None and message.not_before.timestamp() > now + CLOCK_SKEW_S:
            raise AuthenticationError(f"the sign-in message is not valid before {rfc3339(message.not_before)}")


def install_auth(app: FastAPI, desk: Callable[[], LoginDesk]) -> None:
    """The two sign-in routes, served by the desk ``desk()`` returns (it exists once the app has started)."""
    router = APIRouter(prefix="/v1/auth", tags=["auth"])

    @router.get("/nonce")
    def nonce() -> NonceGrant:
        return desk().nonce()

    @router.post("/login")
    def login(body: LoginRequest, host: str = Header("")) -> LoginGrant:
        return desk().login(body, host)

    app.include_router(router)


# ---- the requester's side


def sign_in_message(coordinator_url: str, grant: NonceGrant, address: str, now: float) -> SiweMessage:
    """The message that asks the coordinator at ``coordinator_url`` for a key, valid while the nonce is."""
    issued = datetime.fromtimestamp(int(now), UTC)
    return SiweMessage(domain=_authority(coordinator_url), address=address, statement=STATEMENT,
                       uri=coordinator_url, chain_id=grant.chain_id, nonce=grant.nonce, issued_at=issued,
                       expiration_time=issued + timedelta(seconds=NONCE_TTL_S))  # fmt: skip


def _answer(response: httpx.Response) -> dict[str, object]:
    if response.is_error:
        try:
            message = str(response.json()["error"]["message"])
        except Exception:
            message = response.text[:200]
        raise CoordinatorRefused(response.status_code, message)
    body: dict[str, object] = response.json()
    return body


def _exchange(coordinator_url: str, send: Callable[[], httpx.Response]) -> dict[str, object]:
    try:
        return _answer(send())
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"no coordinator answers at {coordinator_url} ({type(exc).__name__}); check the URL"
        ) from None


def fetch_nonce(http: httpx.Client, coordinator_url: str) -> NonceGrant:
    """A nonce from the coordinator (``http`` has it as base URL), with its chain id and address."""
    return NonceGrant.model_validate(_exchange(coordinator_url, lambda: http.get("/v1/auth/nonce")))


def redeem(
    http: httpx.Client, coordinator_url: str, grant: NonceGrant, account: LocalAccount, now: float
) -> LoginGrant:
    """Sign in with ``grant``'s nonce and return the API key the coordinator mints for ``account``."""
    text = sign_in_message(coordinator_url, grant, account.address, now).text()
    body = LoginRequest(message=text, signature=sign_digest(siwe_digest(text), account)).model_dump()
    return LoginGrant.model_validate(_exchange(coordinator_url, lambda: http.post("/v1/auth/login", json=body)))
