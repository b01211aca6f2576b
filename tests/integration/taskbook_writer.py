"""Records tasks into a TaskBook as fast as it can and prints each task key once record() returned.

python tests/integration/taskbook_writer.py DB FSYNC_INTERVAL_S
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from llmnet.roles.outcome import TaskRecord
from llmnet.roles.taskbook import TaskBook


def main(db: str, interval: str) -> None:
    book = TaskBook(Path(db), fsync_interval_s=float(interval))
    lock = threading.Lock()
    counter = iter(range(10**9))

    def writer() -> None:  # several writers, so group commit is exercised too
        while True:
            with lock:
                key = next(counter) + 1
            receipt = {"task_key": hex(key), "chain_id": 1, "domain": "general", "requester": "0x" + "11" * 20,
                       "fee_wei": 10**13, "prompt_hash": "0x" + "22" * 32, "respondents": []}  # fmt: skip
            book.record(key, 1, TaskRecord.of(receipt, [], []))
            with lock:
                print(hex(key), flush=True)

    threads = [threading.Thread(target=writer, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main(*sys.argv[1:])
