"""Knowledge that grows while it serves: an expert's folder is watched, and its knowledge rebuilt when
its documents change.

    watch = KnowledgeWatch(expert, Path("knowledge/law"))
    change = watch.check()    # None, or what the expert answers from now (its corpus hash)

A check costs one ``stat`` per document and happens at most every ``every_s`` seconds; a rebuild
happens only when a document was added, removed or rewritten, and the expert keeps answering from
the old knowledge until the new one is ready. A folder emptied or unreadable keeps the old knowledge.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llmnet.errors import ConfigError, CorpusError
from llmnet.experts.corpus import corpus_hash_of
from llmnet.experts.expert import ExpertBackend
from llmnet.experts.knowledge import DOCUMENT_SUFFIXES, KnowledgeBase

log = logging.getLogger(__name__)

KNOWLEDGE_CHECK_S = 2.0  # how often a serving expert looks at its folder
Fingerprint = tuple[tuple[str, int, int], ...]


def folder_fingerprint(folder: Path) -> Fingerprint:
    """(path, size, mtime) of every document under ``folder``: what changes when a document does."""
    found = []
    for file in sorted(folder.rglob("*")):
        if file.suffix.lower() in DOCUMENT_SUFFIXES and file.is_file():
            stat = file.stat()
            found.append((file.relative_to(folder).as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


@dataclass(frozen=True)
class KnowledgeChange:
    corpus_hash: str | None  # "0x…"; None when the folder cannot be packed as a corpus
    passages: int


class KnowledgeWatch:
    """Rebuilds ``expert``'s knowledge from ``folder`` when its documents change."""

    def __init__(self, expert: ExpertBackend, folder: Path, *, every_s: float = KNOWLEDGE_CHECK_S,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.expert, self.folder, self.every_s, self.clock = expert, folder, every_s, clock
        self._seen = folder_fingerprint(folder)
        self._next = clock() + every_s

    def check(self) -> KnowledgeChange | None:
        """Rebuild if the folder changed since the last look (and the last look is ``every_s`` old)."""
        if self.clock() < self._next:
            return None
        self._next = self.clock() + self.every_s
        seen = folder_fingerprint(self.folder)
        if seen == self._seen:
            return None
        self._seen = seen
        try:
            knowledge = KnowledgeBase.from_folder(self.folder)
        except ConfigError as exc:
            log.warning(
                "the knowledge folder %s changed but cannot be read; answering from before: %s", self.folder, exc
            )
            return None
        self.expert.use_knowledge(knowledge)
        log.info("knowledge folder %s changed: %d passages now", self.folder, len(knowledge))
        return KnowledgeChange(_corpus_hash(self.folder), len(knowledge))


def _corpus_hash(folder: Path) -> str | None:
    try:
        return corpus_hash_of(folder)
    except CorpusError as exc:
        log.warning("the knowledge folder %s is not a corpus (%s); its version is not recorded", folder, exc)
        return None
