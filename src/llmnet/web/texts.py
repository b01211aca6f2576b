"""The texts of ranked conversations, served by the coordinator so that an export on any host has them.

    GET /ui/api/texts/{hash}   a text by its keccak256, if a conversation on chain refers to it (public)
    PUT /ui/api/texts          upload texts of conversations on chain (``llmnet rank`` does)  (Bearer key)

Only texts a conversation on chain names (its prompt or a response) are served or accepted: the
route is no general-purpose store, and a key holder cannot fill the coordinator's disk with
anything else. Which hashes are on chain is read once per conversation and kept.
"""

from __future__ import annotations

import threading
from typing import Annotated

from pydantic import BaseModel, Field

from llmnet.errors import NotFound
from llmnet.rlhf.book import RankingReader
from llmnet.store import ContentStore, content_hash, validate_hash

MAX_TEXT_CHARS = 64_000
MAX_UPLOAD_TEXTS = 17  # a prompt and the most responses a conversation holds


class TextUpload(BaseModel):
    texts: list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]] = Field(min_length=1, max_length=MAX_UPLOAD_TEXTS)


class UploadResult(BaseModel):
    stored: list[str]  # hashes of the texts kept (or already held)
    refused: list[str]  # hashes no conversation on chain refers to


class ConversationTexts:
    """Which content hashes the conversations on chain refer to, and their texts in ``store``."""

    def __init__(self, book: RankingReader, store: ContentStore) -> None:
        self.book, self.store = book, store
        self._known: set[str] = set()
        self._read = 0  # conversations already indexed
        self._lock = threading.Lock()

    def on_chain(self, wanted: str) -> bool:
        with self._lock:
            if wanted not in self._known:
                self._catch_up()
            return wanted in self._known

    def _catch_up(self) -> None:
        for cid in range(self._read, self.book.conversation_count()):
            c = self.book.conversation(cid)
            self._known |= {c.prompt_hash.lower(), *(r.content_hash.lower() for r in c.responses)}
            self._read = cid + 1

    def text(self, wanted: str) -> str:
        h = validate_hash(wanted)
        if not self.on_chain(h) or not self.store.has(h):
            raise NotFound(f"no text {h} of a conversation on chain at this coordinator; ask the coordinator "
                           "that posted the conversation, or the ranker who holds it")  # fmt: skip
        return self.store.get_text(h)

    def upload(self, req: TextUpload) -> UploadResult:
        stored, refused = [], []
        for t in req.texts:
            h = content_hash(t.encode())
            if self.on_chain(h):
                self.store.put(t, kind="conversation")
                stored.append(h)
            else:
                refused.append(h)
        return UploadResult(stored=stored, refused=refused)
