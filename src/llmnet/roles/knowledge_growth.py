"""A serving expert whose knowledge folder changes: the respondent rebuilds its knowledge (see
:mod:`llmnet.experts.growing`), serves the new corpus, and records the new version on chain (its
registry entry's ``model_version`` names the corpus it answers from: ``v1+kb.ab12cd34``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmnet.backends.base import Backend
from llmnet.errors import LlmnetError
from llmnet.types import ProviderProfile

if TYPE_CHECKING:  # the experts package loads its retrieval index; a plain respondent never needs it
    from llmnet.experts.growing import KnowledgeChange, KnowledgeWatch

log = logging.getLogger(__name__)
VERSION_MARK = "+kb."  # an expert's model_version: its configured version, then the corpus it answers from

EARLIER_CORPORA = 4  # corpora served before the current one, still served by hash (a card may name one)
Served = tuple[str, bytes]  # a corpus hash and its packed JSON


def versioned(model_version: str, corpus_hash: str) -> str:
    """``v1`` answering from corpus ``0xab12cd34…`` is ``v1+kb.ab12cd34`` (within the registry's 64 bytes)."""
    mark = f"{VERSION_MARK}{corpus_hash.removeprefix('0x')[:8]}"
    base = model_version.split(VERSION_MARK)[0].encode()[: 64 - len(mark)].decode(errors="ignore")
    return base + mark


def expert_version(model_version: str, corpus: Served | None) -> str:
    """The model_version an expert registers: its configured one, marked with the corpus it answers from."""
    return versioned(model_version, corpus[0]) if corpus else model_version


def grown_profile(profile: ProviderProfile, model_version: str, change: KnowledgeChange) -> ProviderProfile:
    """``profile`` after the knowledge changed: same model, the version of the new corpus."""
    if change.corpus_hash is None:
        return profile
    return replace(profile, model_version=versioned(model_version, change.corpus_hash))


def keep_earlier(earlier: dict[str, bytes], replaced: Served | None) -> None:
    """Keep serving the corpus just replaced by its hash, dropping the oldest past ``EARLIER_CORPORA``."""
    if replaced is not None:
        earlier[replaced[0]] = replaced[1]
    while len(earlier) > EARLIER_CORPORA:
        del earlier[next(iter(earlier))]


async def _watch(watch: KnowledgeWatch, on_change: Callable[[KnowledgeChange], None]) -> None:
    while True:
        await asyncio.sleep(watch.every_s)
        try:
            change = await asyncio.to_thread(watch.check)
            if change is not None:
                await asyncio.to_thread(on_change, change)
        except (LlmnetError, OSError) as exc:  # a chain or disk hiccup: the next change tries again
            log.warning("recording the knowledge folder %s failed: %s", watch.folder, exc)


def watch_knowledge(
    backend: Backend, folder: Path | None, on_change: Callable[[KnowledgeChange], None]
) -> asyncio.Task[Any] | None:
    """Start watching ``folder`` when ``backend`` is an expert answering from it; cancel the task to stop."""
    from llmnet.experts.expert import ExpertBackend
    from llmnet.experts.growing import KnowledgeWatch

    if folder is None or not isinstance(backend, ExpertBackend):
        return None
    return asyncio.create_task(_watch(KnowledgeWatch(backend, folder), on_change))
