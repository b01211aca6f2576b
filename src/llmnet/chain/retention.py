"""How much history the embedded node keeps, so a long-running local network stays bounded.

Left alone, anvil keeps a full copy of the EVM state for every block (500 in memory, then up
to 3,600 more under ``~/.foundry/anvil/tmp``) and every transaction ever mined with its call
trace and receipt, in memory and in its state dump. Each task adds state, so the copies grow
with it: the embedded node went from 40 MB to 756 MB over ~20,000 tasks.

What llmnet reads from the chain, and what it needs kept:

* contract state at the latest block: balances, tasks, reputation, batch roots, rankings.
  Always kept; older states are never read, so ``state_history`` only bounds memory: each
  state kept is a full copy (at 8,000 tasks, 16 of them took 51 MB more than one).
* receipts of its own recent transactions: the outbox re-checks those mined within its last
  ``RECHECK_BLOCKS`` blocks on start, the accountant and the settler read a receipt right after
  it is mined. ``history_blocks`` may not go below ``RECHECK_BLOCKS``, or a restart could take
  a mined transaction whose receipt was dropped for a lost one.
* events since a cursor that follows the head: the settler's rankings feed.
* events since deployment, shown to people: the dashboard's reputation chart and batch list,
  a receipt proof's batch details, the dataset export's ranking history. On a pruned node these
  show the retained blocks; a receipt proof then checks against the batch root kept in the
  contract's storage.

anvil drops the transactions of one old block per block it mines, so a state dump written with a
longer history (or none at all) would keep its older transactions for good: ``compact_dump``
removes them from the dump before the node loads it, as anvil itself would have.

    >>> ChainRetention(history_blocks=20_000).anvil_args()
    ['--prune-history', '1', '--transaction-block-keeper', '20000']
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llmnet.chain.outbox import RECHECK_BLOCKS

DEFAULT_STATE_HISTORY = 1
DEFAULT_HISTORY_BLOCKS = 2 * RECHECK_BLOCKS


class ChainRetention(BaseModel):
    """What the embedded node keeps; None keeps everything (anvil's own behaviour)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state_history: int | None = Field(
        default=DEFAULT_STATE_HISTORY, ge=1, description="EVM states of past blocks kept, in memory only (none on disk)"
    )
    history_blocks: int | None = Field(
        default=DEFAULT_HISTORY_BLOCKS, description="latest blocks whose transactions, receipts and logs are kept"
    )

    @field_validator("history_blocks")
    @classmethod
    def _covers_outbox(cls, value: int | None) -> int | None:
        if value is not None and value < RECHECK_BLOCKS:
            raise ValueError(
                f"chain history of {value} blocks is shorter than the {RECHECK_BLOCKS} blocks the outbox re-checks "
                f"on start; keep at least {RECHECK_BLOCKS} (or none for all)"
            )
        return value

    def anvil_args(self) -> list[str]:
        args = []
        if self.state_history is not None:
            args += ["--prune-history", str(self.state_history)]
        if self.history_blocks is not None:
            args += ["--transaction-block-keeper", str(self.history_blocks)]
        return args


KEEP_EVERYTHING = ChainRetention(state_history=None, history_blocks=None)


def _number(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def compact_dump(path: Path, history_blocks: int) -> int:
    """Drop from anvil's state dump the transactions of blocks older than the last ``history_blocks``;
    returns how many were dropped (the file is rewritten only then, atomically)."""
    state = json.loads(path.read_text())
    if not isinstance(state, dict) or not {"blocks", "transactions", "best_block_number"} <= state.keys():
        return 0  # not a dump this version of anvil writes: leave it to anvil
    oldest = _number(state["best_block_number"]) - history_blocks
    kept = [t for t in state["transactions"] if _number(t["block_number"]) > oldest]
    dropped = len(state["transactions"]) - len(kept)
    if dropped:
        state["transactions"] = kept
        for block in state["blocks"]:
            if _number(block["header"]["number"]) <= oldest:
                block["transactions"] = []
        tmp = path.with_suffix(".compacting")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, path)
    return dropped
