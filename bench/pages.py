"""Page weight and speed of a township server: what a clerk's PC and an agent's phone download.

Starts a real township node with demo data on a free loopback port, signs in as the admin and
prints, for the main pages: bytes on the wire (gzip) and raw, and the response time
(median and 95th percentile over N requests); then the app shell's size and the server's
resident memory. Figures only, no pass/fail: record them in docs/BENCHMARKS.md.

    python bench/pages.py [--requests 200]
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import time
from pathlib import Path

import httpx
from demo_node import demo_township, machine_line


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


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
        print(machine_line(f"{count} requests per page, one client"))
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
        for path in ("/", "/admin/users", "/admin/windows", "/catalog", "/api/me"):
            measure(client, path, count)
        shell = 0
        for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', signin):
            shell += len(gzip.compress(client.get(url).content))
        print(f"app shell (CSS, htmx, icon), gzip: {shell} B")
        print(f"server resident memory after the run: {rss_kib(pid) / 1024:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with demo_township() as node:
        run(node.base_url, node.logins, node.pid, args.requests)


if __name__ == "__main__":
    main()
