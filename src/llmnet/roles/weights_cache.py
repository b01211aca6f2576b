"""Weights files fetched by their sha256 from the respondent that runs them, checked, and kept under
``<root>/<sha256>.gguf`` (a validator's ``data_dir/.../weights``), so spot checks can re-run any GGUF model
or GGUF LoRA adapter a respondent registered, not only the packaged ones.

    cache = WeightsCache(data_dir / "weights")
    path = cache.fetch("0x" + sha256, "http://127.0.0.1:8401")  # GET <endpoint>/v1/weights/<sha256>

A download is bounded in size and time (:class:`WeightsLimits`, the one home of both limits) and is kept
only when its bytes hash to the sha256 asked for. Pass ``transport=httpx.MockTransport(handler)`` to
serve weights without a network.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from llmnet.errors import WeightsUnavailable

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class WeightsLimits:
    """How much a validator downloads to re-run one respondent's weights."""

    max_bytes: int = 4 * 2**30  # a 7B model at 4 bits fits; a bigger file is not fetched
    max_seconds: float = 900.0  # the whole download, on top of the per-read timeout
    read_timeout_s: float = 60.0


DEFAULT_WEIGHTS_LIMITS = WeightsLimits()


def sha256_hex(weights_hash: str) -> str:
    """``0x``-prefixed or bare sha256 as 64 lower-case hex digits."""
    digest = weights_hash.lower().removeprefix("0x")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise WeightsUnavailable(f"{weights_hash!r} is not a sha256; give 64 hex digits, with or without 0x")
    return digest


class WeightsCache:
    def __init__(self, root: Path, *, transport: httpx.BaseTransport | None = None,
                 limits: WeightsLimits = DEFAULT_WEIGHTS_LIMITS) -> None:  # fmt: skip
        self.root, self.transport, self.limits = Path(root), transport, limits

    def path(self, weights_hash: str) -> Path:
        return self.root / f"{sha256_hex(weights_hash)}.gguf"

    def cached(self, weights_hash: str) -> Path | None:
        """The file, if it was fetched before (it is kept only once its hash was checked)."""
        path = self.path(weights_hash)
        return path if path.is_file() else None

    def fetch(self, weights_hash: str, endpoint: str) -> Path:
        """The GGUF file with ``weights_hash``, downloaded from ``endpoint`` unless it is here already."""
        found = self.cached(weights_hash)
        if found is not None:
            return found
        digest = sha256_hex(weights_hash)
        url = f"{endpoint.rstrip('/')}/v1/weights/{digest}"
        self.root.mkdir(parents=True, exist_ok=True)
        part = self.root / f"{digest}.{os.getpid()}.part"
        try:
            got = self._download(url, part)
            if got != digest:
                raise WeightsUnavailable(f"{url} sent a file whose sha256 is {got}, not {digest}: not the weights "
                                         "the respondent registered, so its answers are not re-run")  # fmt: skip
            part.replace(self.path(digest))
        finally:
            part.unlink(missing_ok=True)
        return self.path(digest)

    def _download(self, url: str, part: Path) -> str:
        """Stream ``url`` into ``part`` within the limits; returns the sha256 of what came."""
        timeout = httpx.Timeout(self.limits.read_timeout_s, connect=5.0)
        deadline = time.monotonic() + self.limits.max_seconds
        h, size = hashlib.sha256(), 0
        try:
            with (
                httpx.Client(transport=self.transport, timeout=timeout) as client,
                client.stream("GET", url) as response,
                part.open("wb") as out,
            ):
                if response.status_code != 200:
                    raise WeightsUnavailable(f"{url} answered HTTP {response.status_code}; the respondent does "
                                             "not serve these weights")  # fmt: skip
                for block in response.iter_bytes():
                    if size == 0 and not block.startswith(GGUF_MAGIC):
                        raise WeightsUnavailable(f"{url} sent no GGUF file; only GGUF weights are re-run")
                    size += len(block)
                    self._within_limits(url, size, deadline)
                    h.update(block)
                    out.write(block)
        except httpx.HTTPError as exc:
            raise WeightsUnavailable(f"the weights at {url} cannot be fetched: {exc}") from None
        return h.hexdigest()

    def _within_limits(self, url: str, size: int, deadline: float) -> None:
        if size > self.limits.max_bytes:
            raise WeightsUnavailable(f"{url} sends more than {self.limits.max_bytes} bytes; larger weights are "
                                     "not fetched (WeightsLimits.max_bytes)")  # fmt: skip
        if time.monotonic() > deadline:
            raise WeightsUnavailable(f"{url} took longer than {self.limits.max_seconds} s to send its weights "
                                     "(WeightsLimits.max_seconds)")  # fmt: skip
