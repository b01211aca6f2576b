"""Corpora fetched from the URLs their domain cards name, checked against the cards' hashes and
kept under ``<root>/<hash>/`` (the coordinator's and validators' ``data_dir/corpora``).

    cache = CorpusCache(data_dir / "corpora")
    folder = cache.fetch(card)   # downloads once; later calls reuse the folder

Pass ``transport=httpx.MockTransport(handler)`` to serve corpora without a network.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from llmnet.errors import CorpusError
from llmnet.experts.corpus import DEFAULT_LIMITS, MANIFEST_FILE, CorpusLimits, unpack
from llmnet.types import DomainCard

FETCH_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class CorpusCache:
    def __init__(self, root: Path, *, transport: httpx.BaseTransport | None = None,
                 timeout: httpx.Timeout = FETCH_TIMEOUT, limits: CorpusLimits = DEFAULT_LIMITS) -> None:  # fmt: skip
        self.root, self.transport, self.timeout, self.limits = Path(root), transport, timeout, limits

    def folder(self, corpus_hash: str) -> Path:
        return self.root / corpus_hash.lower().removeprefix("0x")

    def cached(self, corpus_hash: str) -> Path | None:
        """The unpacked corpus, if it is here: its manifest is present and hashes to ``corpus_hash``."""
        manifest = self.folder(corpus_hash) / MANIFEST_FILE
        if not manifest.is_file():
            return None
        found = "0x" + hashlib.sha256(manifest.read_bytes()).hexdigest()
        return manifest.parent if found == corpus_hash.lower() else None

    def fetch(self, card: DomainCard) -> Path:
        """The folder of ``card``'s corpus, downloaded and checked unless it is cached already."""
        if not card.has_corpus:
            raise CorpusError(f"domain {card.domain!r} names no corpus on chain; governance sets it with its card")
        found = self.cached(card.corpus_hash)
        if found is not None:
            return found
        raw = download(card.corpus_url, card.domain, self.limits, self.transport, self.timeout)
        try:
            return unpack(raw, self.folder(card.corpus_hash), expected=card.corpus_hash, limits=self.limits)
        except (CorpusError, OSError):
            found = self.cached(card.corpus_hash)  # another process unpacked it meanwhile
            if found is None:
                raise
            return found


def download(
    url: str,
    domain: str,
    limits: CorpusLimits = DEFAULT_LIMITS,
    transport: httpx.BaseTransport | None = None,
    timeout: httpx.Timeout = FETCH_TIMEOUT,
) -> bytes:
    """The packed corpus of ``domain`` at ``url``, refused past the packed-corpus size limit."""
    cap = limits.max_packed_bytes
    try:
        with (
            httpx.Client(transport=transport, timeout=timeout) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise CorpusError(
                    f"the corpus of {domain!r} at {url} answered HTTP {response.status_code}; "
                    "check that its server runs and serves this corpus, or update the domain's card"
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > cap:
                    raise CorpusError(f"the corpus of {domain!r} at {url} is larger than {cap} bytes")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise CorpusError(f"the corpus of {domain!r} cannot be fetched from {url}: {exc}") from None
