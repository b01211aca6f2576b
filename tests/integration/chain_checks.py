"""Checks shared by the contract tests: a refused call raises exactly its error and changes nothing."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from web3 import Web3

from llmnet.chain.web3_ledger import Web3Ledger
from llmnet.errors import ContractRevert


def world_state(w3: Web3) -> Any:
    """Every account's balance, nonce, code and storage on the node (anvil_dumpState)."""
    dump = w3.provider.make_request("anvil_dumpState", [])["result"]  # type: ignore[arg-type]
    return json.loads(gzip.decompress(bytes.fromhex(dump[2:])))["accounts"]


@contextmanager
def refused(ledger: Web3Ledger, error: type[Exception], reason: str | None) -> Iterator[None]:
    """Expect exactly ``error`` carrying the contract's ``reason``, and nothing changed on chain."""
    before = world_state(ledger.w3)
    with pytest.raises(error) as info:
        yield
    assert type(info.value) is error
    if reason is not None:
        assert isinstance(info.value, ContractRevert)
        assert info.value.reason == reason
    assert world_state(ledger.w3) == before
