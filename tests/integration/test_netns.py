"""The multi-host tests' LAN (tests/integration/netns.py): hosts reach each other, only each other,
and a cut link stops them."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tests.integration.netns import Lan, netns_usable

pytestmark = [pytest.mark.integration, pytest.mark.skipif(netns_usable() is not None, reason=str(netns_usable()))]

FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())"


def test_hosts_reach_each_other_until_a_link_is_cut(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("from the server host")
    with Lan(f"n{os.getpid() % 10000}") as lan:
        server, client = lan.host("server"), lan.host("client")
        lan_ips = {server.ip, client.ip}
        assert len(lan_ips) == 2 and all(ip.startswith("10.77.") for ip in lan_ips)
        server.popen([sys.executable, "-m", "http.server", "8000", "--bind", server.ip], log=tmp_path / "http.log",
                     cwd=tmp_path)  # fmt: skip
        url = f"http://{server.ip}:8000/hello.txt"
        for _ in range(50):
            got = client.run([sys.executable, "-c", FETCH, url], check=False)
            if got.returncode == 0:
                break
            time.sleep(0.2)
        assert got.stdout.strip() == "from the server host"
        # the server is not on the machine's own network: its loopback is its own
        assert client.run([sys.executable, "-c", FETCH, "http://127.0.0.1:8000/hello.txt"], check=False).returncode
        server.cut()
        assert client.run([sys.executable, "-c", FETCH, url], check=False).returncode != 0
