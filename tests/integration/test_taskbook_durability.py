"""A coordinator killed mid-stream loses no task it acknowledged, in either durability mode:
fsync per record, and the default (write-ahead log now, fsync within 100 ms)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from llmnet.roles.taskbook import TaskBook

pytestmark = pytest.mark.integration

WRITER = Path(__file__).with_name("taskbook_writer.py")


@pytest.mark.parametrize("interval", ["0", "0.1"])
def test_sigkill_loses_no_acknowledged_task(tmp_path: Path, interval: str) -> None:
    db = tmp_path / "tasks.sqlite"
    proc = subprocess.Popen([sys.executable, str(WRITER), str(db), interval], stdout=subprocess.PIPE, text=True)
    acknowledged = set()
    assert proc.stdout is not None
    for line in proc.stdout:
        acknowledged.add(line.strip())
        if len(acknowledged) >= 300:
            break
    proc.send_signal(signal.SIGKILL)  # mid-stream: other writers are between record() and print
    proc.wait()
    proc.stdout.close()
    book = TaskBook(db)
    try:
        stored = {row[0] for row in book.db.execute("SELECT task_key FROM tasks")}
        assert len(acknowledged) >= 300
        assert acknowledged <= stored, sorted(acknowledged - stored)[:5]
        assert book.counts() == {"answered": len(stored)}
    finally:
        book.close()
