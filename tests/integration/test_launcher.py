"""A network that cannot start leaves nothing running behind it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from llmnet.config import load_settings
from llmnet.errors import LlmnetError
from llmnet.launcher import Network, NetworkOptions, RespondentPlan
from tests.conftest import free_port, free_run

pytestmark = pytest.mark.integration


def running_under(folder: Path) -> list[str]:
    """Command lines of live processes that name ``folder`` (their spec files or chain state)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(folder) in cmdline:
            found.append(cmdline)
    return found


def test_a_service_that_cannot_start_stops_the_ones_already_running(tmp_path: Path) -> None:
    respondents = (RespondentPlan("fake-a", ("general",), backend="fake", options={"model_id": "fake-echo"}),)
    settings = load_settings(data_dir=tmp_path, chain_port=free_port())
    coordinator_port = free_port()
    plan = NetworkOptions(coordinator_port=coordinator_port, respondent_base_port=free_run(1),
                          validator_base_port=free_run(2), respondents=respondents, judge="fake")  # fmt: skip
    network = Network(settings, plan)
    with socket.socket() as squatter:  # the coordinator's port is taken
        squatter.bind(("127.0.0.1", coordinator_port))
        squatter.listen()
        with pytest.raises(LlmnetError, match="coordinator"):
            network.start(timeout=90)
    assert network.processes == {} and network.node is None
    assert running_under(tmp_path) == []  # no respondent, validator or chain process is left
    logs = sorted(p.name for p in (tmp_path / "network" / "logs").iterdir())
    assert {"fake-a.log", "validator-1.log", "validator-2.log"} <= set(logs)  # they did start before
