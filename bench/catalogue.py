"""What a phone downloads for the catalogue: GET /api/catalog of a township with demo data.

Starts a real township node with demo data (its demo catalogue and the seeded working-day
calendar) on a free loopback port and prints: how many items and materials, the body raw and
as gzip on the wire (the server's GZip middleware), what a 304 (If-None-Match) costs, and the
median time of N requests of each. Figures only, no pass/fail: record them in
docs/BENCHMARKS.md.

    python bench/catalogue.py [--requests 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
from demo_node import demo_township, machine_line


def head_bytes(response: httpx.Response) -> int:
    """The status line and headers as HTTP/1.1 sends them."""
    status = len(f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n")
    fields = sum(len(name) + len(value) + 4 for name, value in response.headers.raw)
    return status + fields + 2


def timed(client: httpx.Client, headers: dict[str, str], count: int) -> tuple[float, float]:
    """Median and 95th percentile, in ms, of `count` requests (the body read in full)."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        client.get("/api/catalog", headers=headers).read()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=20)[18]


def run(base: str, count: int) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        print(machine_line(f"{count} requests each, one client"))
        gzip = {"Accept-Encoding": "gzip"}
        with client.stream("GET", "/api/catalog", headers=gzip) as response:
            wire = sum(len(chunk) for chunk in response.iter_raw())
            encoding = response.headers.get("content-encoding", "identity")
            full_head = head_bytes(response)
        plain = client.get("/api/catalog", headers={"Accept-Encoding": "identity"})
        body = plain.json()
        materials = sum(len(item["materials"]) for item in body["items"])
        etag = plain.headers["etag"]
        print(
            f"items: {len(body['items'])}, materials: {materials}, "
            f"calendar days: {len(body['calendar'])} in {len(body['known_years'])} years"
        )
        print(
            f"200 body raw: {len(plain.content)} B; on the wire ({encoding}): {wire} B; "
            f"headers {full_head} B"
        )
        not_modified = client.get("/api/catalog", headers={**gzip, "If-None-Match": etag})
        if not_modified.status_code != 304:
            raise SystemExit(f"If-None-Match answered {not_modified.status_code}, not 304")
        print(f"304 body: {len(not_modified.content)} B; headers {head_bytes(not_modified)} B")
        p50, p95 = timed(client, gzip, count)
        print(f"200 (gzip) p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        p50, p95 = timed(client, {**gzip, "If-None-Match": etag}, count)
        print(f"304        p50 {p50:.1f} ms, p95 {p95:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with demo_township() as node:
        run(node.base_url, args.requests)


if __name__ == "__main__":
    main()
