"""Records tasks into a TaskBook as fast as it can and prints each task key once record() returned.

python tests/integration/taskbook_writer.py DB FSYNC_INTERVAL_S
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from llmnet.roles.accountant import TaskBook


def main(db: str, interval: str) -> None:
    book = TaskBook(Path(db), fsync_interval_s=float(interval))
    lock = threading.Lock()
    counter = iter(range(10**9))

    def writer() -> None:  # several writers, so group commit is exercised too
        while True:
            with lock:
                key = next(counter) + 1
            book.record(key, "0x" + "11" * 20, "general", 10**13, 1, "0x" + "22" * 32, {"receipt": {}, "n": key})
            with lock:
                print(hex(key), flush=True)

    threads = [threading.Thread(target=writer, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main(*sys.argv[1:])
