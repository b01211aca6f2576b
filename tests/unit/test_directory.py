"""The coordinator's cached view of the chain: ranking a domain needs no chain call once warm."""

from __future__ import annotations

from llmnet.chain.memory_ledger import MemoryLedger
from llmnet.roles.directory import Directory


def test_a_domain_is_known_only_once_everything_ranking_reads_is_cached() -> None:
    directory = Directory(MemoryLedger(governance="0x" + "00" * 19 + "01", domains=("general", "law")))
    assert not directory.knows("law")
    directory.candidates("law")
    assert not directory.knows("law")  # its specialists would still be a chain read on the event loop
    directory.specialists("law")
    assert directory.knows("law") and not directory.knows("general")
