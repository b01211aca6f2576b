"""The settler's feed of human rankings into reputation, kept in the settlement queue's database.

Anyone can post a conversation and rank it, so a ranking counts only when it can be trusted to be
about real answers: every response of its conversation must be one the settler verified itself
(signed by that respondent, over that exact text, in a task of the conversation's domain), and
the ranker must not be one of the respondents. The first ranking each account gives a
conversation counts once; revisions stay on chain and in the dataset but do not move reputation
again. Rankings that arrive before their tasks' outcomes wait (up to ``wait_s``) for them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence

from llmnet.reputation.human import WeightedObservation, ranking_observations
from llmnet.rlhf.book import Conversation, RankingBook

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ranking_cursor (id INTEGER PRIMARY KEY CHECK (id = 0), next_block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS verified_responses (content_hash TEXT PRIMARY KEY, respondent TEXT NOT NULL,
                                               domain TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS human_rankings (conversation_id INTEGER NOT NULL, ranker TEXT NOT NULL,
    ranks TEXT NOT NULL, seen_at REAL NOT NULL, state TEXT NOT NULL, observations TEXT, record_id INTEGER,
    PRIMARY KEY (conversation_id, ranker));
"""


def usable_observations(
    conversation: Conversation, ranker: str, ranks: Sequence[int], verified: dict[str, tuple[str, str]], weight: float
) -> list[WeightedObservation] | None:
    """The ranking's observations, or None while one of its responses is not verified (pure).

    ``verified`` maps content hash -> (respondent, domain) of responses the settler checked."""
    respondents = [r.respondent for r in conversation.responses]
    if ranker.lower() in {r.lower() for r in respondents}:
        return []  # a respondent ranking its own answer is no evidence
    for r in conversation.responses:
        if verified.get(r.content_hash) != (r.respondent.lower(), conversation.domain):
            return None
    return ranking_observations(respondents, conversation.domain, ranks, weight)


class RankingFeed:
    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, book: RankingBook, weight: float,
                 *, wait_s: float = 3600.0, max_per_batch: int = 32) -> None:  # fmt: skip
        self.db, self.lock, self.book, self.weight = db, lock, book, weight
        self.wait_s, self.max_per_batch = wait_s, max_per_batch
        with self.lock:
            self.db.executescript(_SCHEMA)

    def remember(self, responses: Iterable[tuple[str, str, str]]) -> None:
        """Record verified responses as (content hash, respondent, domain)."""
        rows = [(h.lower(), who.lower(), domain) for h, who, domain in responses]
        with self.lock:
            self.db.executemany("INSERT OR IGNORE INTO verified_responses VALUES (?, ?, ?)", rows)

    def poll(self) -> int:
        """Read new first submissions from the chain; returns how many were new."""
        with self.lock:
            row = self.db.execute("SELECT next_block FROM ranking_cursor").fetchone()
        start = row[0] if row else self.book.ledger.deployment.block_number
        head = int(self.book.ledger.w3.eth.block_number)
        if head < start:
            return 0
        rows = [(e.conversation_id, e.ranker, json.dumps(e.ranks), time.time(), "waiting")
                for e in self.book.events(start, head) if not e.revised]  # fmt: skip
        with self.lock:
            cur = self.db.executemany("INSERT OR IGNORE INTO human_rankings (conversation_id, ranker, ranks, "
                                      "seen_at, state) VALUES (?, ?, ?, ?, ?)", rows)  # fmt: skip
            self.db.execute("INSERT OR REPLACE INTO ranking_cursor VALUES (0, ?)", (head + 1,))
        return cur.rowcount if rows else 0

    def _resolve(self) -> None:
        with self.lock:
            waiting = self.db.execute(
                "SELECT conversation_id, ranker, ranks, seen_at FROM human_rankings WHERE state = 'waiting'"
            ).fetchall()
        conversations: dict[int, Conversation] = {}
        for cid, ranker, ranks, seen_at in waiting:
            if cid not in conversations:
                conversations[cid] = self.book.conversation(cid)
            verified = self._verified(conversations[cid])
            found = usable_observations(conversations[cid], ranker, json.loads(ranks), verified, self.weight)
            if found is None and time.time() - seen_at < self.wait_s:
                continue
            state, data = ("ignored", None) if not found else ("ready", json.dumps([o.__dict__ for o in found]))
            with self.lock:
                self.db.execute("UPDATE human_rankings SET state = ?, observations = ? WHERE conversation_id = ? "
                                "AND ranker = ?", (state, data, cid, ranker))  # fmt: skip

    def _verified(self, conversation: Conversation) -> dict[str, tuple[str, str]]:
        hashes = [r.content_hash.lower() for r in conversation.responses]
        with self.lock:
            rows = self.db.execute(
                "SELECT content_hash, respondent, domain FROM verified_responses WHERE content_hash IN "
                "(SELECT value FROM json_each(?))",
                (json.dumps(hashes),),
            ).fetchall()
        return {h: (who, domain) for h, who, domain in rows}

    def take(self) -> tuple[list[tuple[int, str]], list[WeightedObservation]]:
        """Rankings ready to join the next batch: their keys and their observations."""
        self.poll()
        self._resolve()
        with self.lock:
            rows = self.db.execute(
                "SELECT conversation_id, ranker, observations FROM human_rankings WHERE state = 'ready' "
                "AND record_id IS NULL ORDER BY seen_at LIMIT ?",
                (self.max_per_batch,),
            ).fetchall()
        keys = [(cid, ranker) for cid, ranker, _ in rows]
        observations = [WeightedObservation(**o) for _, _, data in rows for o in json.loads(data)]
        return keys, observations

    def mark(self, keys: Sequence[tuple[int, str]], record_id: int) -> None:
        """Within the caller's transaction: these rankings went into outbox record ``record_id``."""
        self.db.executemany(
            "UPDATE human_rankings SET record_id = ? WHERE conversation_id = ? AND ranker = ?",
            [(record_id, cid, ranker) for cid, ranker in keys],
        )

    def states(self) -> dict[str, int]:
        """How many rankings wait, are ready, were ignored, or went into a settlement transaction."""
        with self.lock:
            rows = self.db.execute(
                "SELECT CASE WHEN record_id IS NULL THEN state ELSE 'submitted' END AS s, COUNT(*) "
                "FROM human_rankings GROUP BY s"
            ).fetchall()
        return {state: n for state, n in rows}
