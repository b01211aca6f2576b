"""A respondent whose model sits behind an OpenAI-compatible API (llama.cpp's own HTTP server, a
separate process) serves in a network like any other: it registers, answers, is rated, is settled
and is paid."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from llmnet.launcher import RespondentPlan
from llmnet.types import TaskStatus
from tests.conftest import free_port
from tests.integration.networks import running_network

pytestmark = pytest.mark.integration

SERVER = Path(__file__).with_name("openai_server.py")
QUESTION = "What is the capital of France?"


@pytest.fixture
def openai_server(tmp_path: Path) -> Iterator[str]:
    """llama.cpp's server with SmolLM2-135M-Instruct on a free port; its base URL (…/v1)."""
    port = free_port()
    log = open(tmp_path / "openai-server.log", "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, str(SERVER), str(port)], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(f"{base}/v1/models"):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "openai-server.log").read_text()
            time.sleep(0.2)
        yield f"{base}/v1"
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def prompt_tokens_served(base_url: str) -> float:
    """Prompt tokens the server has processed, from its Prometheus metrics."""
    metrics = httpx.get(f"{base_url.removesuffix('/v1')}/metrics", timeout=5).text
    line = next(x for x in metrics.splitlines() if x.startswith("llamacpp:prompt_tokens_total"))
    return float(line.split()[-1])


def test_an_openai_compatible_endpoint_serves_as_a_respondent(tmp_path: Path, openai_server: str) -> None:
    plan = RespondentPlan("remote-model", ("general",), backend="openai_compat", licence="Apache-2.0",
                          version="SmolLM2-135M-Instruct behind an OpenAI-compatible API",
                          options={"base_url": openai_server, "model": "smollm2-135m-remote",
                                   "deterministic": True, "timeout_s": 60.0})  # fmt: skip
    before = prompt_tokens_served(openai_server)
    with running_network(tmp_path / "net", [plan], validators=1, k=1, rounds=0, max_tokens=24, gold_rate=0.0,
                         spot_check_rate=0.0) as net:  # fmt: skip
        client = OpenAI(base_url=net.base_url, api_key=net.api_key, timeout=120, max_retries=0)
        resp = client.chat.completions.create(model="llmnet/general", messages=[{"role": "user", "content": QUESTION}])
        answer = resp.choices[0].message.content or ""
        llmnet = resp.model_extra["llmnet"]  # type: ignore[index]
        receipt = llmnet["receipt"]
        (only,) = receipt["respondents"]
        assert only["model_id"] == "smollm2-135m-remote" and only["answered"] and answer.strip()
        assert prompt_tokens_served(openai_server) > before  # the answer came from the server
        assert net.ledger is not None
        provider = net.ledger.get_provider(only["address"])
        assert provider.profile.model_id == "smollm2-135m-remote" and provider.profile.domains == ("general",)
        deadline, task = time.monotonic() + 60, {}
        key = {"Authorization": f"Bearer {net.api_key}"}
        while time.monotonic() < deadline:
            task = httpx.get(f"{net.base_url.removesuffix('/v1')}/tasks/{llmnet['task_id']}", headers=key).json()
            if task["state"] == "settled":
                break
            time.sleep(0.5)
        assert task["state"] == "settled", task
        assert net.ledger.get_task(task["chain_task_id"]).status == TaskStatus.SETTLED
        assert net.ledger.credits_of(only["address"]) > 0  # paid for the answer
        assert net.ledger.reputation(only["address"], "general").count == 1
