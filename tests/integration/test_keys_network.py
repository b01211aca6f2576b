"""`llmnet keys list|revoke` against a running network: a revoked key is refused at once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmnet.launcher import Network, RespondentPlan
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

FAKE = {"model_id": "fake-echo"}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    respondents = (RespondentPlan("fake-a", ("general",), backend="fake", options=FAKE),)
    with running_network(tmp_path_factory.mktemp("keys"), respondents, judge="fake", k=1, validators=1,
                         rate=False, gold_rate=0.0) as network:  # fmt: skip
        yield network


def llmnet(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMNET_DATA_DIR": str(data_dir), "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "llmnet.cli.main", "keys", *args], capture_output=True, text=True, env=env, timeout=60
    )


def models(net: Network, key: str) -> httpx.Response:
    return httpx.get(f"{net.base_url}/models", headers={"Authorization": f"Bearer {key}"}, timeout=10)


def test_list_then_revoke_and_the_coordinator_refuses_the_key(net: Network) -> None:
    data_dir = net.settings.data_dir
    assert models(net, net.api_key).status_code == 200
    listed = llmnet(data_dir, "list")
    assert listed.returncode == 0, listed.stderr
    assert "demo" in listed.stdout and "active" in listed.stdout
    assert net.api_key not in listed.stdout and net.api_key[:16] in listed.stdout
    revoked = llmnet(data_dir, "revoke", net.api_key[:16])
    assert revoked.returncode == 0, revoked.stderr
    refused = models(net, net.api_key)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]
    assert "revoked" in llmnet(data_dir, "list").stdout
    unknown = llmnet(data_dir, "revoke", "ffffffffffff")
    assert unknown.returncode != 0 and "llmnet keys list" in unknown.stderr
