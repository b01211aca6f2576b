"""Reads at the latest block survive a node that prunes that block under them (llmnet.chain.transactions.read)."""

from __future__ import annotations

import pytest

from llmnet.chain.transactions import READ_ATTEMPTS, read
from llmnet.errors import ChainError

PRUNED = "{'code': -32602, 'message': 'BlockOutOfRangeError: block height is 22 but requested was 20'}"


class Call:
    """A contract function whose first ``failures`` calls raise ``error``."""

    def __init__(self, failures: int, error: str) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def call(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise ValueError(self.error)
        return 42


def test_a_read_whose_block_was_pruned_is_read_again() -> None:
    fn = Call(READ_ATTEMPTS - 1, PRUNED)
    assert read(fn) == 42 and fn.calls == READ_ATTEMPTS


def test_a_read_pruned_every_time_is_an_error_after_the_last_attempt() -> None:
    fn = Call(READ_ATTEMPTS, PRUNED)
    with pytest.raises(ChainError, match="BlockOutOfRangeError"):
        read(fn, "reading the domains")
    assert fn.calls == READ_ATTEMPTS


def test_any_other_failure_is_not_read_again() -> None:
    fn = Call(1, "execution reverted: no such task")
    with pytest.raises(ChainError):
        read(fn)
    assert fn.calls == 1
