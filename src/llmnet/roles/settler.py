"""The settler: a validator that records finished tasks on chain, in batches.

It accepts outcomes only from coordinators in good standing on chain (see
:mod:`llmnet.roles.admission`; a validator's ``trusted_coordinators`` restricts that), each
carrying the coordinator's signed :class:`~llmnet.signing.OutcomeClaim` (see
:mod:`llmnet.roles.outcome`), and counts ratings from every validator in good standing in the
validator book. It verifies every
signature, refuses replays and outcomes that disagree with their claim before queueing, and
queues the rest durably. A background loop settles the queue in batches through the outbox
(one transaction per batch: payouts, reputation, receipts root). A task whose settlement the
chain would refuse (unknown, already settled or refunded, another fee) is set aside with its
reason, so the rest of its batch still settles.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from llmnet.chain.ledger import Ledger
from llmnet.chain.outbox import Outbox
from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import ConfigError, ContractRevert, InputError, LlmnetError, NotFound, SignatureError
from llmnet.reputation.settlement import FeeSplit, TaskOutcome, plan_settlement
from llmnet.rlhf.book import RankingBook
from llmnet.rlhf.feed import RankingFeed
from llmnet.roles.admission import Coordinators, as_coordinators
from llmnet.roles.epochs import EpochClock, RevealedRatings, RevealUnavailable
from llmnet.roles.outcome import CheckedOutcome, CheckedRating, score_outcome, verify_outcome
from llmnet.roles.protocol import Refusal, SettlementState, SettleReply, SettleRequest
from llmnet.roles.trust_keeper import TrustKeeper
from llmnet.signing import SigningDomain
from llmnet.store import transaction
from llmnet.types import TaskStatus

log = logging.getLogger("llmnet.settler")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    task_id INTEGER PRIMARY KEY,
    task_key TEXT NOT NULL UNIQUE,
    claim_digest TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ready_epoch INTEGER NOT NULL,
    record_id INTEGER,
    batch_id INTEGER,
    tx_hash TEXT,
    set_aside TEXT
);
CREATE INDEX IF NOT EXISTS outcomes_ready ON outcomes(record_id, ready_epoch);
CREATE TABLE IF NOT EXISTS penalised (validator TEXT NOT NULL, epoch INTEGER NOT NULL, PRIMARY KEY (validator, epoch));
"""


def _state(task_id: int, record_id: int | None, batch_id: int | None, tx_hash: str | None,
           set_aside: str | None) -> SettlementState:  # fmt: skip
    if set_aside is not None:
        return SettlementState(task_id=task_id, state="set_aside", reason=set_aside)
    state = "queued" if record_id is None else ("settled" if batch_id is not None else "submitted")
    return SettlementState(task_id=task_id, state=state, batch_id=batch_id, tx_hash=tx_hash)


@dataclass(frozen=True)
class _Ready:
    """A queued outcome whose ratings' reveal windows are over, scored for the next batch."""

    checked: CheckedOutcome
    scored: TaskOutcome
    unrevealed: frozenset[tuple[str, int]]


class SettlementQueue:
    """Durable queue of verified outcomes, settled in batches through the outbox."""

    def __init__(self, path: Path, ledger: Web3Ledger, account: LocalAccount, max_batch: int,
                 keeper: TrustKeeper, reveals: RevealedRatings, clock: EpochClock,
                 ranking_weight: float = 0.0) -> None:  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        self.ledger, self.account, self.max_batch = ledger, account, max_batch
        self.keeper, self.reveals, self.clock = keeper, reveals, clock
        self.outbox = Outbox(path.with_name("validator-outbox.sqlite"), ledger, [account])
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        _refuse_old_schema(self.db, path)
        # (validator, epoch) pairs already charged for ratings they never revealed: kept with the
        # batches that charged them, so a restart does not charge them twice
        self.db.executescript(_SCHEMA)
        self.lock = threading.Lock()
        self._penalised: set[tuple[str, int]] = {
            (r["validator"], int(r["epoch"])) for r in self.db.execute("SELECT validator, epoch FROM penalised")
        }
        has_rankings = bool(getattr(ledger.deployment, "rankings", ""))
        self.feed = RankingFeed(self.db, self.lock, RankingBook(ledger), ranking_weight) if (
            ranking_weight > 0 and has_rankings) else None  # fmt: skip

    # ------------------------------------------------------------- intake
    def add(self, outcomes: Sequence[CheckedOutcome]) -> tuple[int, list[Refusal]]:
        """Queue outcomes already verified (so settling does not verify the same signatures again);
        each waits until the reveal windows of its ratings are over. The same claim twice is
        queued once; another claim on a task id or a task key already queued is refused."""
        added, refused = 0, []
        with self.lock, transaction(self.db):
            for o in outcomes:
                reason = self._conflict(o)
                if reason is not None:
                    refused.append(Refusal(task_id=o.task_id, reason=reason))
                    continue
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO outcomes (task_id, task_key, claim_digest, outcome, ready_epoch) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (o.task_id, hex(o.task_key), o.claim_digest, o.model_dump_json(), o.ready_epoch),
                )
                added += cur.rowcount
        if self.feed is not None:
            self.feed.remember((h, who, o.domain) for o in outcomes for who, h in o.responses.items())
        return added, refused

    def _conflict(self, o: CheckedOutcome) -> str | None:
        row = self.db.execute(
            "SELECT task_id, claim_digest FROM outcomes WHERE task_id = ? OR task_key = ?", (o.task_id, hex(o.task_key))
        ).fetchone()
        if row is None or (row["task_id"] == o.task_id and row["claim_digest"] == o.claim_digest):
            return None
        if row["task_id"] == o.task_id:
            return f"task {o.task_id} already has another outcome; an outcome is settled once"
        return f"task key {hex(o.task_key)} was already claimed for task {row['task_id']}; it is settled once"

    # ------------------------------------------------------------- status
    def queued(self) -> int:
        with self.lock:
            q = "SELECT COUNT(*) FROM outcomes WHERE record_id IS NULL AND set_aside IS NULL"
            return int(self.db.execute(q).fetchone()[0])

    def statuses(self, task_ids: Sequence[int]) -> list[SettlementState]:
        """The states of those of ``task_ids`` this queue has seen (the others are left out), in one read."""
        ids = [int(t) for t in task_ids]
        with self.lock:
            rows = self.db.execute(
                "SELECT task_id, record_id, batch_id, tx_hash, set_aside FROM outcomes WHERE task_id IN "
                "(SELECT value FROM json_each(?))",
                (json.dumps(ids),),
            ).fetchall()
        found = {row["task_id"]: _state(*row) for row in rows}
        return [found[t] for t in ids if t in found]

    def status(self, task_id: int) -> SettlementState:
        found = self.statuses([task_id])
        if not found:
            raise NotFound(f"task {task_id} has not reached the settling validator")
        return found[0]

    # ------------------------------------------------------------- settling
    def _counted(self, c: CheckedOutcome, current: int) -> tuple[list[CheckedRating], set[tuple[str, int]]] | None:
        """The ratings whose validators revealed them, and the (validator, epoch) pairs that did not
        reveal; None while a revealed list cannot be fetched yet (for up to three more epochs)."""
        kept, missing = [], set()
        for r in c.ratings:
            try:
                listed = self.reveals.digests(r.validator, r.epoch)
            except RevealUnavailable:
                if current < r.epoch + 6:
                    return None
                listed = None
            if listed is not None and r.digest in listed:
                kept.append(r)
            else:
                missing.add((r.validator, r.epoch))
        return kept, missing

    def _ready(self) -> list[_Ready]:
        current = self.clock.epoch()
        with self.lock:
            candidates = self.db.execute(
                "SELECT outcome FROM outcomes WHERE record_id IS NULL AND set_aside IS NULL AND ready_epoch <= ? "
                "ORDER BY task_id LIMIT ?",
                (current, self.max_batch),
            ).fetchall()
        weights = self.keeper.weights()
        ready = []
        for row in candidates:
            checked = CheckedOutcome.model_validate_json(row["outcome"])
            counted = self._counted(checked, current)
            if counted is not None:
                kept, missing = counted
                ready.append(_Ready(checked=checked, scored=score_outcome(checked, kept, weights),
                                    unrevealed=frozenset(missing)))  # fmt: skip
        return ready

    def settle_once(self) -> int:
        """Submit one batch of queued outcomes and confirm earlier ones; returns tasks submitted
        or set aside (0: nothing to do)."""
        self._confirm()
        ready = self._ready()
        if not ready:
            return 0
        ranked, extra = self.feed.take() if self.feed is not None else ([], [])
        batch = plan_settlement([r.scored for r in ready], FeeSplit(), self.ledger.decay, extra)
        ids = [r.checked.task_id for r in ready]
        key = f"settle-{ids[0]}-{ids[-1]}-{len(ids)}"
        try:
            record_id = self.outbox.submit(self.ledger.settlement_call(batch), self.account, key=key)
        except ContractRevert as exc:
            return self._set_aside(ready, exc)
        unrevealed = set().union(*(r.unrevealed for r in ready)) - self._penalised
        self._penalised |= unrevealed
        with self.lock, transaction(self.db):
            self.db.executemany("UPDATE outcomes SET record_id = ? WHERE task_id = ?", [(record_id, t) for t in ids])
            self.db.executemany("INSERT OR IGNORE INTO penalised (validator, epoch) VALUES (?, ?)", sorted(unrevealed))
            if self.feed is not None:
                self.feed.mark(ranked, record_id)
        trust = self.keeper.observe([r.scored for r in ready], [v for v, _ in sorted(unrevealed)])
        if trust:
            self.outbox.submit(self.ledger.set_trust_call(trust), self.account, key=f"trust-{key}")
        self.outbox.process()
        self._confirm()
        return len(ids)

    def _set_aside(self, ready: list[_Ready], exc: ContractRevert) -> int:
        """The chain refused the batch: find the tasks it refuses, set them aside with the reason
        (the rest settle in the next pass); if no task is to blame, the error stands."""
        culprits = screen_on_chain(self.ledger, [r.checked for r in ready]) or self._bisect(ready)
        if not culprits:
            raise exc
        for task_id, reason in culprits:
            log.warning("task %d set aside: %s", task_id, reason)
        with self.lock, transaction(self.db):
            self.db.executemany("UPDATE outcomes SET set_aside = ? WHERE task_id = ?",
                                [(reason, task_id) for task_id, reason in culprits])  # fmt: skip
        return len(culprits)

    def _refusal(self, ready: Sequence[_Ready]) -> str | None:
        """Why the chain would refuse settling just these tasks (None: it would accept)."""
        batch = plan_settlement([r.scored for r in ready], FeeSplit(), self.ledger.decay)
        try:
            self.ledger.tx.estimate(self.ledger.function(self.ledger.settlement_call(batch)), self.account)
        except ContractRevert as exc:
            return str(exc)
        return None

    def _bisect(self, ready: list[_Ready]) -> list[tuple[int, str]]:
        """The tasks that the chain refuses on their own, found by halving (log2(batch) simulations each)."""
        reason = self._refusal(ready)
        if reason is None:
            return []
        if len(ready) == 1:
            return [(ready[0].checked.task_id, reason)]
        half = len(ready) // 2
        return self._bisect(ready[:half]) + self._bisect(ready[half:])

    def _confirm(self) -> None:
        with self.lock:
            pending = self.db.execute(
                "SELECT DISTINCT record_id FROM outcomes WHERE record_id IS NOT NULL AND batch_id IS NULL"
            ).fetchall()
        for (record_id,) in pending:
            record = self.outbox.get(record_id)
            if record.state != "mined" or record.tx_hash is None:
                continue
            receipt = self.ledger.tx.receipt(record.tx_hash)
            ids = self.ledger.settled_batch_ids(receipt.logs) if receipt else []
            if ids:
                with self.lock:
                    self.db.execute(
                        "UPDATE outcomes SET batch_id = ?, tx_hash = ? WHERE record_id = ?",
                        (ids[0], record.tx_hash, record_id),
                    )


def screen_on_chain(ledger: Ledger, outcomes: Sequence[CheckedOutcome]) -> list[tuple[int, str]]:
    """(task id, reason) for each outcome the chain's record of its task contradicts: unknown,
    settled or refunded already, or opened for another requester, domain or fee."""
    found = []
    for o in outcomes:
        try:
            task = ledger.get_task(o.task_id)
        except ContractRevert as exc:
            found.append((o.task_id, f"the chain refuses task {o.task_id}: {exc.reason}"))
            continue
        if task.status != TaskStatus.OPEN:
            found.append((o.task_id, f"task {o.task_id} is already {task.status.name.lower()} on chain"))
        elif (task.requester.lower(), task.domain, task.fee) != (o.requester.lower(), o.domain, o.fee):
            found.append((o.task_id, f"task {o.task_id} was opened on chain for {task.requester} in "
                                     f"{task.domain!r} with fee {task.fee}, not as its outcome claims"))  # fmt: skip
    return found


def _refuse_old_schema(db: sqlite3.Connection, path: Path) -> None:
    columns = {row[1] for row in db.execute("PRAGMA table_info(outcomes)")}
    if columns and "claim_digest" not in columns:
        pending = db.execute("SELECT COUNT(*) FROM outcomes WHERE batch_id IS NULL").fetchone()[0]
        if pending:
            raise ConfigError(f"{path} holds {pending} unsettled outcomes in the format of an earlier llmnet; "
                              "settle them with that version first, or move the file away to start afresh")  # fmt: skip
        db.execute("DROP TABLE outcomes")


def settle_forever(queue: SettlementQueue, interval_s: float, stop: threading.Event,
                   report: dict[str, str | None]) -> None:  # fmt: skip
    """The settler's loop: settle while there is work, then wait ``interval_s``; an error keeps
    the queue and is reported in ``report["last_error"]``."""
    while not stop.wait(interval_s):
        try:
            while queue.settle_once():
                pass
        except LlmnetError as exc:
            report["last_error"] = f"{type(exc).__name__}: {exc}"
            log.warning("settlement failed (%s); the queue is kept and retried in %.1f s", exc, interval_s)
        except Exception as exc:  # keep the queue; report and retry next interval
            report["last_error"] = f"{type(exc).__name__}: {exc}"
            log.exception("settlement failed; the queue is kept and retried in %.1f s", interval_s)


class Settler:
    """The settler's intake: verifies outcomes and queues them; see the module docstring."""

    def __init__(
        self, queue: SettlementQueue, domain: SigningDomain, coordinators: Coordinators | Iterable[str]
    ) -> None:
        self.queue, self.domain, self.coordinators = queue, domain, as_coordinators(coordinators)

    def accept(self, req: SettleRequest) -> SettleReply:
        """Queue the outcomes that verify; each refused one is named with its reason. When every
        outcome is refused, the first refusal is raised (a lone replay gets an error status)."""
        raters = {r["message"].get("validator") for o in req.outcomes for r in o.record.ratings
                  if isinstance(r.get("message"), dict)}  # fmt: skip
        self.queue.keeper.weights(need=[v for v in raters if isinstance(v, str)])
        validators = self.queue.keeper.known
        checked, refused, errors = [], [], []
        for o in req.outcomes:
            try:
                checked.append(verify_outcome(o, self.domain, self.coordinators, validators))
            except (InputError, SignatureError) as exc:
                refused.append(Refusal(task_id=o.task_id, reason=str(exc)))
                errors.append(exc)
        added, conflicts = self.queue.add(checked)
        if not added and len(refused) + len(conflicts) == len(req.outcomes) and (errors or conflicts):
            raise errors[0] if errors else InputError(conflicts[0].reason)
        return SettleReply(accepted=added, queued=self.queue.queued(), refused=refused + conflicts)
