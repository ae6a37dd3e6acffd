"""A real township node with demo data on a free loopback port, for the benchmarks.

with demo_township() as node:
    httpx.get(node.base_url + "/api/health")
"""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "server"]


@dataclass(frozen=True)
class DemoNode:
    base_url: str
    pid: int
    logins: dict[str, str]  # user name -> password, from demo-logins.txt


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine_line(note: str) -> str:
    return (
        f"# {platform.node()} · {platform.machine()} · Python {platform.python_version()}"
        f" · {time.strftime('%Y-%m-%d')} · {note}"
    )


@contextmanager
def demo_township() -> Iterator[DemoNode]:
    """init, demo and serve in a temporary data directory; stopped on exit."""
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "town"
        cli = [*CLI, "--data", str(data)]
        subprocess.run(
            [
                *cli,
                "init",
                "--role",
                "township",
                "--region",
                "990102101",
                "--name",
                "青山镇便民服务中心",
                "--parent-region",
                "990102",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run([*cli, "demo"], check=True, capture_output=True)
        logins = {
            line.split()[1]: line.split()[2]
            for line in (data / "demo-logins.txt").read_text().splitlines()
            if line and not line.startswith("#")
        }
        port = free_port()
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        node = DemoNode(f"http://127.0.0.1:{port}", server.pid, logins)
        try:
            _wait_until_up(node.base_url)
            yield node
        finally:
            server.terminate()
            server.wait(10)


def _wait_until_up(base_url: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(base_url + "/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"the demo node at {base_url} did not come up")
