"""Where the texts of ranked conversations come from: local content stores, or the network by content hash.

The chain holds only hashes. The coordinator that posted a conversation (from its dashboard, or
`llmnet rank` uploading to it) serves the conversation's texts at ``GET /ui/api/texts/{hash}``,
so an export on any host can fetch them; every fetched text is checked against its hash, and
kept in a local store so the next export needs no network.

    >>> remote = NetworkTexts(["http://coordinator:8300"], keep=store)  # doctest: +SKIP
    >>> texts = TextSources([StoredTexts([store]), remote])  # doctest: +SKIP
    >>> texts.text("0x…")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from llmnet.errors import ContentNotFound
from llmnet.store import ContentStore, content_hash

TEXT_ROUTE = "/ui/api/texts"  # GET {base}{TEXT_ROUTE}/{hash}; PUT {base}{TEXT_ROUTE} uploads texts
FETCH_TIMEOUT_S = 10.0
FETCHED_KIND = "fetched"


class TextSource(Protocol):
    def text(self, content_hash: str) -> str | None:
        """The text whose keccak256 is ``content_hash``, or None when this source does not have it."""


class StoredTexts:
    """Texts in local content stores, the first that has it."""

    def __init__(self, stores: Sequence[ContentStore]) -> None:
        self.stores = list(stores)

    def text(self, content_hash: str) -> str | None:
        for store in self.stores:
            try:
                return store.get_text(content_hash)
            except ContentNotFound:
                continue
        return None


@dataclass
class NetworkTexts:
    """Texts fetched by hash from coordinators (their base URLs, without ``/v1``), kept in ``keep``."""

    base_urls: Sequence[str]
    keep: ContentStore | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=FETCH_TIMEOUT_S))
    failures: dict[str, str] = field(default_factory=dict)  # base URL -> why the last fetch from it failed

    def text(self, content_hash: str) -> str | None:
        for base in self.base_urls:
            found = self._fetch(base.rstrip("/").removesuffix("/v1"), content_hash.lower())
            if found is not None:
                if self.keep is not None:
                    self.keep.put(found, kind=FETCHED_KIND)
                return found
        return None

    def _fetch(self, base: str, wanted: str) -> str | None:
        try:
            resp = self.client.get(f"{base}{TEXT_ROUTE}/{wanted}")
        except httpx.HTTPError as exc:
            self.failures[base] = f"unreachable ({type(exc).__name__}: {exc})"
            return None
        if resp.status_code != 200:
            if resp.status_code != 404:
                self.failures[base] = f"HTTP {resp.status_code}"
            return None
        if content_hash(resp.content) != wanted:
            self.failures[base] = f"served a text that does not hash to {wanted}"
            return None
        return resp.content.decode()


class TextSources:
    """Several sources, asked in turn."""

    def __init__(self, sources: Sequence[TextSource]) -> None:
        self.sources = list(sources)

    def text(self, content_hash: str) -> str | None:
        for source in self.sources:
            found = source.text(content_hash)
            if found is not None:
                return found
        return None


@dataclass(frozen=True)
class MissingTexts:
    """Rankings of one conversation left out of an export because some of its texts were found nowhere."""

    conversation_id: int
    rankings: int
    hashes: tuple[str, ...]

    def describe(self) -> str:
        shown = ", ".join(h[:10] + "..." for h in self.hashes)
        return f"conversation {self.conversation_id}: {self.rankings} ranking(s) left out, no text for {shown}"
