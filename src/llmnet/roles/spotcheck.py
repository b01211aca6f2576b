"""Spot-check re-execution: catching a respondent that serves other weights than it registered.

A respondent signs, with each answer, the hash of the exact request it answered, its model id
and the sha256 of its weights. When those weights are a model this validator also has, the
request asks for deterministic output (temperature 0, a fixed seed) and the model id shows no
private ingredient (an expert's documents), the validator can run the same request itself. A
different output is a :class:`~llmnet.signing.SpotCheck` it signs; once ``spot_quorum``
registered validators have signed one, anybody can submit them with the respondent's own
signed response to ``TaskEscrow.convict``, which slashes its whole stake and resets its
reputation. An honest respondent's output is reproduced exactly, so it is never convicted.

Weights that are not a packaged model here (a trained expert's GGUF LoRA adapter, any other GGUF model)
are fetched by hash from the respondent's registered endpoint (``GET /v1/weights/{sha256}``), checked and
cached (:mod:`llmnet.roles.weights_cache`); an adapter is re-run on its base, packaged here or fetched by
hash too. Weights a respondent does not serve cannot be re-run, so its answer is not attested either way.
Prefix-tuned experts (served by transformers, their model id marked ``@transformers``) are not re-run:
PyTorch float math is not promised bit-identical across machines.
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount

from llmnet.backends.base import Backend
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import BackendUnavailable, ConfigError, InputError, LlmnetError, WeightsUnavailable
from llmnet.roles.protocol import RespondPayload
from llmnet.roles.weights_cache import WeightsCache
from llmnet.signing import Response, SignedMessage, SigningDomain, SpotCheck, sign, verify
from llmnet.store import content_hash
from llmnet.types import ZERO_HASH, TxReceipt

#: marks in a model id whose answers are not re-run: an expert's private documents, PyTorch float math
NOT_REPRODUCIBLE = ("expert:", "@transformers")


class Reproducer:
    """Runs a request again on the weights a response names: a packaged model, or, given a ``weights``
    cache and ``endpoint_of`` (respondent address -> its registered endpoint), any GGUF model or GGUF LoRA
    adapter the respondent serves by hash."""

    def __init__(self, n_threads: int = 1, *, weights: WeightsCache | None = None,
                 endpoint_of: Callable[[str], str] | None = None) -> None:  # fmt: skip
        self.n_threads = n_threads
        self.weights, self.endpoint_of = weights, endpoint_of
        self._catalogue: dict[str, str] | None = None
        self._backends: dict[tuple[str, str | None, str], Backend] = {}
        self._lock = threading.Lock()

    def catalogue(self) -> dict[str, str]:
        """0x weights sha256 -> packaged model name, for the models installed here."""
        if self._catalogue is None:
            from llmnet.backends.llamacpp import MODELS, weights_sha256

            found = {}
            for name, locate in MODELS.items():
                try:
                    found["0x" + weights_sha256(locate())] = name
                except (OSError, ConfigError, BackendUnavailable):
                    continue
            self._catalogue = found
        return self._catalogue

    def reproducible(self, response: Response, payload: RespondPayload) -> bool:
        can_fetch = self.weights is not None and self.endpoint_of is not None
        return (
            response.weights_hash != ZERO_HASH
            and (response.weights_hash in self.catalogue() or can_fetch)
            and not any(mark in response.model_id for mark in NOT_REPRODUCIBLE)
            and payload.temperature == 0
            and payload.digest() == response.request_hash
        )

    def recompute(self, response: Response, payload: RespondPayload) -> str:
        """The content hash of this machine's answer to ``payload`` on the response's weights.

        Raises :class:`WeightsUnavailable` when the weights are neither here nor served by the respondent."""
        if not self.reproducible(response, payload):
            raise InputError(f"response of task {response.task_id} cannot be reproduced here")
        from llmnet.backends.llamacpp import LlamaCppBackend

        mode = "completion" if response.model_id.endswith(":completion") else "chat"
        model, lora = self.weights_for(response)
        key = (str(model), str(lora) if lora else None, mode)
        with self._lock:
            backend = self._backends.get(key)
            if backend is None:
                backend = LlamaCppBackend(model, mode=mode, n_threads=self.n_threads, lora=lora)  # type: ignore[arg-type]
                self._backends[key] = backend
        text = backend.complete(payload.generation_request()).text.strip()  # as the respondent signs it
        return content_hash(text.encode())

    def weights_for(self, response: Response) -> tuple[Path, Path | None]:
        """(GGUF model, GGUF LoRA adapter or None) that ``response``'s weights hash names."""
        from llmnet.backends.weights import gguf_kind
        from llmnet.tuning.gguf_adapter import adapter_base_sha256

        path = self._file(response.weights_hash, response.respondent)
        if gguf_kind(path) == "model":
            return path, None
        base = self._file("0x" + adapter_base_sha256(path), response.respondent)
        if gguf_kind(base) != "model":
            raise WeightsUnavailable(f"the base named by adapter {response.weights_hash} is itself an adapter")
        return base, path

    def _file(self, weights_hash: str, respondent: str) -> Path:
        from llmnet.backends.llamacpp import MODELS

        name = self.catalogue().get(weights_hash.lower())
        if name is not None:
            return MODELS[name]()
        if self.weights is None or self.endpoint_of is None:
            raise WeightsUnavailable(f"weights {weights_hash} are no packaged model here, and this validator "
                                     "fetches no weights (give the Reproducer a WeightsCache)")  # fmt: skip
        return self.weights.fetch(weights_hash, self.endpoint_of(respondent))


class SpotChecker:
    """One validator's side of a spot check."""

    def __init__(self, reproducer: Reproducer, account: LocalAccount, domain: SigningDomain) -> None:
        self.reproducer, self.account, self.domain = reproducer, account, domain

    def check(self, response: SignedMessage[Response], payload: RespondPayload) -> SignedMessage[SpotCheck] | None:
        """A signed attestation if re-running gives another output; None if it matches or cannot be run."""
        verify(response, self.domain)
        r = response.message
        if not self.reproducer.reproducible(r, payload):
            return None
        try:
            recomputed = self.reproducer.recompute(r, payload)
        except WeightsUnavailable:
            return None  # weights nobody here can obtain: nothing to attest either way
        if recomputed == r.content_hash:
            return None
        check = SpotCheck(task_id=r.task_id, respondent=r.respondent, request_hash=r.request_hash,
                          weights_hash=r.weights_hash, claimed_hash=r.content_hash, recomputed_hash=recomputed,
                          validator=self.account.address)  # fmt: skip
        return sign(check, self.account, self.domain)


def convict_if_attested(
    ledger: Web3Ledger,
    response: SignedMessage[Response],
    attestations: Sequence[SignedMessage[SpotCheck] | None],
    sender: LocalAccount,
    quorum: int,
) -> TxReceipt | None:
    """Submit the evidence when at least ``quorum`` validators attested a mismatch."""
    found = [a for a in attestations if a is not None]
    if len(found) < quorum:
        return None
    return ledger.convict(response, found, sender)


class SpotService:
    """A validator's spot checks in the background: a sample (``rate``) of the answers it rates is
    re-run; a mismatch is put to the other registered validators (``POST /v1/spotcheck``), and with
    enough of their attestations the evidence goes to ``TaskEscrow.convict``."""

    def __init__(self, checker: SpotChecker, ledger: Web3Ledger, rate: float, *, seed: int | None = None,
                 http: httpx.Client | None = None) -> None:  # fmt: skip
        if not 0 <= rate <= 1:
            raise ConfigError(f"spot_check_rate is {rate}; use a share between 0 and 1")
        self.checker, self.ledger, self.rate = checker, ledger, rate
        self.http = http or httpx.Client(timeout=120)
        self.rng = random.Random(seed)
        self.queue: queue.Queue[tuple[dict[str, Any], RespondPayload] | None] = queue.Queue(maxsize=64)
        self.stats = {"checked": 0, "mismatches": 0, "convicted": 0, "skipped": 0}
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="llmnet-spot-checks", daemon=True)
        self._thread.start()

    def offer(self, response: dict[str, Any], request: RespondPayload | None) -> None:
        """Maybe check this answer later; never delays the rating that offered it."""
        if request is None or self.rng.random() >= self.rate:
            return
        try:
            self.queue.put_nowait((response, request))
        except queue.Full:
            self.stats["skipped"] += 1

    def stop(self) -> None:
        self.queue.put(None)

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            try:
                self._check(*item)
            except Exception as exc:  # keep checking the next ones
                self.last_error = f"{type(exc).__name__}: {exc}"

    def _peers(self) -> list[str]:
        me = self.checker.account.address
        return [v.endpoint for v in self.ledger.validators() if v.address != me]

    def _check(self, data: dict[str, Any], request: RespondPayload) -> None:
        response = SignedMessage.from_dict(data, Response)
        mine = self.checker.check(response, request)
        self.stats["checked"] += 1
        if mine is None:
            return
        self.stats["mismatches"] += 1
        r = response.message
        if self.ledger.is_convicted(r.task_id, r.respondent, r.round):
            return
        body = {"response": data, "request": request.model_dump()}
        attestations: list[SignedMessage[SpotCheck] | None] = [mine]
        for endpoint in self._peers():
            try:
                resp = self.http.post(f"{endpoint.rstrip('/')}/v1/spotcheck", json=body)
                resp.raise_for_status()
                found = resp.json().get("attestation")
                attestations.append(SignedMessage.from_dict(found, SpotCheck) if found else None)
            except (httpx.HTTPError, LlmnetError, ValueError) as exc:
                self.last_error = f"peer {endpoint}: {exc}"
        quorum = self.ledger.spot_quorum
        if convict_if_attested(self.ledger, response, attestations, self.checker.account, quorum) is not None:
            self.stats["convicted"] += 1
