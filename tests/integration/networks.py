"""Whole networks for the integration tests: every service a separate process on free ports."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llmnet.config import load_settings
from llmnet.launcher import Network, NetworkOptions, RespondentPlan
from tests.conftest import free_port, free_run


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
