"""Whole networks for the integration tests: every service a separate process on free ports."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llmnet.config import load_settings
from llmnet.launcher import Network, NetworkOptions, RespondentPlan
from tests.conftest import free_port


def free_run(n: int) -> int:
    """The first of ``n`` consecutive free ports (services take consecutive ports from a base)."""
    for _ in range(50):
        base = free_port()
        if base + n < 65535 and all(_port_free(base + i) for i in range(n)):
            return base
    raise RuntimeError("no run of free ports")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def running_network(
    data_dir: Path, respondents: Sequence[RespondentPlan], *, timeout: float = 120, **options: Any
) -> Iterator[Network]:
    """A network of ``respondents`` and (by default two) validators, started, and stopped afterwards."""
    settings = load_settings(data_dir=data_dir, chain_port=free_port())
    validators = options.get("validators", 2)
    plan = NetworkOptions(coordinator_port=free_port(), respondent_base_port=free_run(len(respondents)),
                          validator_base_port=free_run(validators), respondents=tuple(respondents),
                          **options)  # fmt: skip
    network = Network(settings, plan)
    network.start(timeout=timeout)
    try:
        yield network
    finally:
        network.stop()
