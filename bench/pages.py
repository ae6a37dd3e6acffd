"""Page weight and speed of a township server: what a clerk's PC and an agent's phone download.

Starts a real township node with demo data on a free loopback port, signs in as a clerk and
prints, for the main pages: bytes on the wire (gzip) and raw, and the response time
(median and 95th percentile over N requests); then the app shell's size and the server's
resident memory. Figures only, no pass/fail: record them in docs/BENCHMARKS.md.

    python bench/pages.py [--requests 200]
"""

from __future__ import annotations

import argparse
import gzip
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "server"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "town"
        subprocess.run(
            [
                *CLI,
                "--data",
                str(data),
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
        subprocess.run([*CLI, "--data", str(data), "demo"], check=True, capture_output=True)
        logins = {
            line.split()[1]: line.split()[2]
            for line in (data / "demo-logins.txt").read_text().splitlines()
            if line and not line.startswith("#")
        }
        port = free_port()
        server = subprocess.Popen(
            [*CLI, "--data", str(data), "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            run(f"http://127.0.0.1:{port}", logins, server.pid, args.requests)
        finally:
            server.terminate()
            server.wait(10)


def measure(client: httpx.Client, path: str, count: int) -> None:
    times = []
    response = client.get(path)
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}")
    raw = response.content
    wire = len(gzip.compress(raw)) if len(raw) >= 800 else len(raw)
    p95 = statistics.quantiles(times, n=20)[18]
    print(f"{path:<28}{wire:>9}{len(raw):>9}{statistics.median(times):>9.1f}{p95:>9.1f}")


def run(base: str, logins: dict[str, str], pid: int, count: int) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for _ in range(100):
            try:
                if client.get("/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        print(
            f"# {platform.node()} · {platform.machine()} · Python {platform.python_version()}"
            f" · {time.strftime('%Y-%m-%d')} · {count} requests per page, one client"
        )
        print(f"{'page':<28}{'gzip B':>9}{'raw B':>9}{'p50 ms':>9}{'p95 ms':>9}")
        measure(client, "/signin", count)
        signin = client.get("/signin").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', signin)
        if token is None:
            raise SystemExit("no CSRF token on the sign-in page")
        client.post(
            "/signin",
            data={
                "login": "zhen.admin",
                "password": logins["zhen.admin"],
                "csrf_token": token.group(1),
                "next": "/",
            },
        )
        for path in ("/", "/admin/users", "/admin/windows", "/api/me"):
            measure(client, path, count)
        shell = 0
        for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', signin):
            shell += len(gzip.compress(client.get(url).content))
        print(f"app shell (CSS, htmx, icon), gzip: {shell} B")
        print(f"server resident memory after the run: {rss_kib(pid) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
