"""The embedded local Ethereum node: an anvil process that llmnet starts and stops.

Its state is dumped under llmnet's data directory every second and on exit,
and loaded again on start. A dump can lag the last mined block by up to a
second, so durability of what llmnet acknowledged rests on the outbox, which
re-checks its records against the chain on start (see ``chain.outbox``).
How much history it keeps (past states, old transactions and their logs) is
bounded by its ``ChainRetention`` (see ``chain.retention``).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from llmnet.chain.retention import ChainRetention, compact_dump
from llmnet.errors import ChainUnavailable, ConfigError

EMBEDDED_CHAIN_ID = 1337
ANVIL_PACKAGE = "@foundry-rs/anvil"  # npm's anvil: one binary per platform in @foundry-rs/anvil-<platform>/bin


def find_anvil(explicit: str | None = None) -> str:
    """Locate the anvil binary: the explicit path, else $LLMNET_ANVIL, else npm's ``@foundry-rs/anvil``
    in a ``node_modules`` of the current directory or one above it, else in npm's global folder
    (``npm root -g``), else ``anvil`` on PATH (Foundry's own install)."""
    for candidate in (explicit, os.environ.get("LLMNET_ANVIL")):
        if candidate:
            if Path(candidate).is_file() and os.access(candidate, os.X_OK):
                return candidate
            raise ConfigError(f"anvil binary {candidate!r} does not exist or is not executable; fix LLMNET_ANVIL")
    for modules in _node_modules():
        found = _anvil_in(modules)
        if found is not None:
            return found
    on_path = shutil.which("anvil")
    if on_path:
        return on_path
    raise ConfigError(
        f"anvil (the local Ethereum node) was not found: install it with `npm install {ANVIL_PACKAGE}` "
        f"(here, or `npm install -g {ANVIL_PACKAGE}`), or Foundry's (https://getfoundry.sh), or set "
        "LLMNET_ANVIL=/path/to/anvil; or point llmnet at another node with --rpc-url"
    )


def _node_modules() -> Iterator[Path | None]:
    """Where npm installs packages: beside the current directory and each one above it, then globally
    (asked of npm only when none of those has anvil)."""
    here = Path.cwd()
    for folder in (here, *here.parents):
        yield folder / "node_modules"
    yield npm_global_root()


def _anvil_in(modules: Path | None) -> str | None:
    if modules is None:
        return None
    found = [p for p in sorted(glob.glob(str(modules / f"{ANVIL_PACKAGE}-*/bin/anvil"))) if os.access(p, os.X_OK)]
    return found[0] if found else None


def npm_global_root() -> Path | None:
    """npm's global ``node_modules`` folder, if npm is installed and says where it is."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    try:
        out = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.strip()) if out.strip() else None


def rpc_request(url: str, method: str, params: list[object] | None = None, timeout: float = 2.0) -> object:
    """One raw JSON-RPC request (used before web3 is set up, e.g. to probe a node)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        payload = json.loads(resp.read())
    if "error" in payload:
        raise ChainUnavailable(f"{method} at {url} failed: {payload['error']}")
    return payload["result"]


def node_answers(url: str) -> bool:
    try:
        rpc_request(url, "eth_chainId", timeout=0.5)
        return True
    except (OSError, ValueError, ChainUnavailable):
        return False


@dataclass
class LocalNode:
    """An anvil process bound to 127.0.0.1 with its state under ``state_dir``.

    >>> node = LocalNode(Path("/tmp/llmnet-chain"), port=8645)   # doctest: +SKIP
    >>> node.start(); node.url                                      # doctest: +SKIP
    'http://127.0.0.1:8645'
    """

    state_dir: Path
    port: int = 8645
    chain_id: int = EMBEDDED_CHAIN_ID
    anvil_path: str | None = None
    state_interval: int = 1
    accounts: int = 20
    retention: ChainRetention = field(default_factory=lambda: ChainRetention())
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "anvil.pid"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def command(self) -> list[str]:
        return [
            find_anvil(self.anvil_path),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--state", str(self.state_file),
            "--state-interval", str(self.state_interval),
            "--accounts", str(self.accounts),
            "--silent",
            *self.retention.anvil_args(),
        ]  # fmt: skip

    def start(self, timeout: float = 20.0, detach: bool = False) -> None:
        """Start anvil and wait until it answers; ``detach`` lets it outlive this process."""
        if node_answers(self.url):
            raise ChainUnavailable(
                f"something already answers at {self.url}; stop it (`llmnet chain down`) "
                "or choose another port with --port"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.retention.history_blocks is not None and self.state_file.exists():
            compact_dump(self.state_file, self.retention.history_blocks)
        log = open(self.state_dir / "anvil.log", "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=detach,
        )  # fmt: skip
        log.close()
        self.pid_file.write_text(str(self.process.pid))
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ChainUnavailable(
                    f"anvil exited with code {self.process.returncode}; see {self.state_dir / 'anvil.log'}"
                )
            if node_answers(self.url):
                return
            time.sleep(0.05)
        self.stop()
        raise ChainUnavailable(f"anvil did not answer at {self.url} within {timeout:.0f}s")

    def running_pid(self) -> int | None:
        """The pid recorded for this node if that process is alive."""
        try:
            pid = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return pid

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (anvil dumps its state on SIGTERM)."""
        pid = self.process.pid if self.process is not None else self.running_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        self._wait_exit(pid, timeout)
        self.pid_file.unlink(missing_ok=True)
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would: state newer than the last dump is lost."""
        pid = self.process.pid if self.process is not None else self.running_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_exit(pid, 5.0)
        self.process = None

    def _wait_exit(self, pid: int, timeout: float) -> None:
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
