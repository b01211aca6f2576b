"""Hosts for multi-host tests: Linux network namespaces joined by veth pairs to one bridge.

Each host is a namespace with its own loopback and one interface on a private /24; the bridge lives
in a namespace of its own, so nothing is attached to the machine's own network and the only addresses
anyone can reach are those of the namespaces made here. Cutting a host's link takes its interface
down, as a pulled cable would. Needs root and ``ip`` (iproute2).

    with Lan("t7") as lan:
        chain = lan.host("chain")                # 10.77.<n>.1
        proc = chain.popen(["anvil", "--host", chain.ip])
        lan.host("requester").run(["curl", f"http://{chain.ip}:8545"])
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

SUBNET_PREFIX = "10.77"


def netns_usable() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@dataclass
class Host:
    """One namespace: ``ip`` is its address on the LAN; commands run inside it."""

    lan: Lan
    name: str
    ip: str
    device: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return f"{self.lan.prefix}-{self.name}"

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *argv]

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 120,
            cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run ``argv`` in this host to completion; its output is kept for the assertion message."""
        done = subprocess.run(self.command(argv), env=_env(env), cwd=cwd, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip
        if check and done.returncode != 0:
            shown = " ".join(argv)
            raise AssertionError(f"{self.name}: {shown} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def popen(self, argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
        """Start ``argv`` in this host in the background, its output to ``log``; stopped with the LAN."""
        out: IO[bytes] = open(log, "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(self.command(argv), env=_env(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)  # fmt: skip
        out.close()
        self.processes.append(proc)
        return proc

    def cut(self) -> None:
        """Take this host's link down: nobody reaches it and it reaches nobody."""
        _ip("-n", self.namespace, "link", "set", self.device, "down")

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    return {**os.environ, **(extra or {})}


class Lan:
    """A bridge and the hosts on it; everything made is removed on exit, processes first."""

    def __init__(self, prefix: str, subnet: int = 0) -> None:
        self.prefix = prefix  # short: it names namespaces and (with a host number) interfaces
        self.subnet = f"{SUBNET_PREFIX}.{subnet}"
        self.hosts: dict[str, Host] = {}
        self.switch = f"{prefix}-sw"

    def __enter__(self) -> Lan:
        _ip("netns", "add", self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        return self

    def __exit__(self, *exc: Any) -> None:
        for host in self.hosts.values():
            host.stop()
        for name in [*(h.namespace for h in self.hosts.values()), self.switch]:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)

    def host(self, name: str) -> Host:
        """A new host on the LAN, with the next address (.1, .2, …)."""
        n = len(self.hosts) + 1
        ns, device, peer = f"{self.prefix}-{name}", f"{self.prefix}h{n}", f"{self.prefix}p{n}"
        ip = f"{self.subnet}.{n}"
        _ip("netns", "add", ns)
        _ip("link", "add", device, "netns", ns, "type", "veth", "peer", "name", peer, "netns", self.switch)
        _ip("-n", self.switch, "link", "set", peer, "master", "br0")
        _ip("-n", self.switch, "link", "set", peer, "up")
        _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", device)
        _ip("-n", ns, "link", "set", device, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        host = Host(self, name, ip, device)
        self.hosts[name] = host
        return host
