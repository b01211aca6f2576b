"""llmnet installed from its wheel runs outside the repository.

The wheel is built from a copy of the sources, installed into a fresh virtualenv in a temporary
folder (its dependencies are made importable from this environment's site-packages, nothing is
downloaded), and from a working directory outside the repository that venv's ``llmnet up --config
network.toml`` starts a network with an expert of its own: a made-up domain, created on chain with
its card, and a knowledge folder written here. A question of that domain, asked through the openai
client with ``llmnet/auto``, is routed to the expert, which answers with the folder's fact.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from llmnet.chain.node import find_anvil
from tests.conftest import free_port, free_run

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = {
    "apprentices.md": "# The Orrin glassworks\n\nThe Orrin glassworks employs 37 apprentices. Its main furnace "
    "burns beech wood and is relit every spring.\n",
    "blowpipes.md": "# Blowpipes\n\nA glassblower's blowpipe at Orrin is made of iron and is 150 centimetres long.\n",
}
NETWORK = """
[coordinator]
k = 1
rounds = 0
gold_rate = 0.0
max_tokens = 48

[validators]
count = 1
spot_check_rate = 0.0

[ports]
coordinator = {coordinator}
respondents = {respondents}
validators = {validators}

[[respondents]]
name = "glass-expert"
domains = ["glassblowing"]
description = "Glassblowing: glassworks, furnaces, blowpipes and apprentices."
knowledge = "glass-notes"
model = "smollm2"
"""


def run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=180, cwd=cwd, env=env)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with llmnet installed from its wheel, and this environment's packages importable."""
    source, wheels = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheels")
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    quiet = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", wheels, source,
        env=quiet)  # fmt: skip
    (wheel,) = wheels.glob("llmnet-*.whl")
    venv = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel, env=quiet)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    # plain paths, not site dirs: their .pth files (this environment's editable llmnet) are not read
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site / "dependencies.pth").write_text("".join(f"{path}\n" for path in ours))
    return venv


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the repository with a network file and the expert's knowledge folder."""
    work = tmp_path_factory.mktemp("operator")
    assert not work.resolve().is_relative_to(REPO)
    (work / "glass-notes").mkdir()
    for name, text in DOCUMENTS.items():
        (work / "glass-notes" / name).write_text(text, encoding="utf-8")
    return work


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that points at the repository or another llmnet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMNET_", "PYTHON", "VIRTUAL_ENV"))}
    return env | extra


def test_the_installed_package_is_the_wheel(venv: Path, workdir: Path) -> None:
    python = venv / "bin" / "python"
    where = run(python, "-c", "import llmnet, llmnet.data as d; print(llmnet.__file__); print(d.KNOWLEDGE_ROOT)",
                cwd=workdir, env=clean_env())  # fmt: skip
    package, knowledge = (Path(line) for line in where.split())
    assert package.is_relative_to(venv) and knowledge.is_relative_to(venv)
    assert {"medicine", "astronomy", "law"} <= {p.name for p in knowledge.iterdir()}
    assert (knowledge / "questions.jsonl").is_file() and (package.parent / "data" / "network.toml").is_file()
    assert len(list((package.parent / "chain" / "artifact_files").glob("*.json"))) == 4


@pytest.fixture(scope="module")
def network(venv: Path, workdir: Path) -> Iterator[tuple[int, Path]]:
    """The installed ``llmnet up --config network.toml``, run from ``workdir``, serving until the tests end."""
    coordinator = free_port()
    (workdir / "network.toml").write_text(
        NETWORK.format(coordinator=coordinator, respondents=free_run(1), validators=free_run(1))
    )
    data = workdir / "data"
    env = clean_env(LLMNET_DATA_DIR=str(data), LLMNET_ANVIL=find_anvil(), COLUMNS="200")
    log = (workdir / "up.log").open("wb")
    command = [venv / "bin" / "llmnet", "up", "--config", "network.toml", "--port", str(free_port())]
    up = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_up(up, f"http://127.0.0.1:{coordinator}/health", data / "network" / "requester.key", workdir / "up.log")
        yield coordinator, data
    finally:
        up.send_signal(signal.SIGTERM)  # `llmnet up` stops its services and its chain
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        log.close()


def wait_up(up: subprocess.Popen[bytes], health: str, key_file: Path, log: Path, timeout: float = 150) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert up.poll() is None, f"llmnet up exited with {up.returncode}:\n{log.read_text()[-4000:]}"
        try:
            if key_file.exists() and httpx.get(health, timeout=1).status_code < 500:  # written once all are up
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"llmnet up did not come up within {timeout:.0f}s:\n{log.read_text()[-4000:]}")


def test_the_custom_expert_answers_its_domain_from_its_folder(venv: Path, network: tuple[int, Path]) -> None:
    port, data = network
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=(data / "network" / "requester.key").read_text(),
                    timeout=120, max_retries=0)  # fmt: skip
    question = "How many apprentices does the Orrin glassworks employ?"
    resp = client.chat.completions.create(model="llmnet/auto", messages=[{"role": "user", "content": question}])
    receipt = (resp.model_extra or {})["llmnet"]["receipt"]
    assert receipt["domain"] == "glassblowing"  # created on chain from the file, learnt from its card
    (answered,) = [r for r in receipt["respondents"] if r["answered"]]
    assert [s.split("#")[0] for s in answered["sources"]] == ["apprentices.md"]  # the folder's document
    assert "37" in (resp.choices[0].message.content or "")
    spec = json.loads((data / "network" / "specs" / "coordinator.json").read_text())
    assert Path(spec["knowledge_root"]).is_relative_to(venv)  # the shipped folders, from the installed package
