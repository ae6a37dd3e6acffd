"""Bytes on the wire per case event: sealed up-stream batches against plain gzipped JSON.

Makes a township with the demo data (`init`, `demo` in a temporary directory), reads its
pending up stream exactly as `yichuang sync` does (batches under 32 KiB), seals each batch to a
throwaway county key, and compares with the same events as JSON, gzipped in one stream and
per batch. Prints a Markdown table for docs/BENCHMARKS.md; then the same for `--cases` cases of
ten events each (a promised case's whole life, made as bench/sync_ingest.py makes them) added
after the demo's.

    .venv/bin/python bench/sync_bytes.py [--cases 100]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sync_ingest import add_cases

import server.models  # noqa: F401  (every table, for the foreign keys)
from server.crypto.fields import FieldCipher
from server.db import Database
from server.relay.feed import pending_up
from server.relay.wire import encode
from server.settings import load_settings
from sync.chain import canonical
from sync.envelope import seal
from sync.keys import NodeKeys

CLI = [sys.executable, "-m", "server"]
REGION, COUNTY = "990102101000", "990102"


async def measure(data: Path, start: int = 0) -> dict[str, Any]:
    settings = load_settings(data)
    db = Database(settings.effective_database_url)
    cipher = FieldCipher(settings.data_key)
    me, county = NodeKeys.generate(), NodeKeys.generate().public()
    after, sealed, batches, events, gz_batches = start, 0, 0, [], 0
    async with db.session() as session:
        while True:
            batch = await pending_up(session, cipher, parent=COUNTY, after=after)
            if not batch.events:
                break
            payload = {"type": "up", "from": REGION, "events": batch.events, "upto": batch.upto}
            sealed += len(seal(encode(payload), sender=me, recipients=[county]))
            gz_batches += len(gzip.compress(json.dumps(batch.events, ensure_ascii=False).encode()))
            events += batch.events
            batches += 1
            after = batch.upto
    await db.dispose()
    cases = len({event["case"] for event in events})
    return {
        "events": len(events),
        "cases": cases,
        "batches": batches,
        "canonical": len(canonical(events)),
        "gzip_stream": len(gzip.compress(json.dumps(events, ensure_ascii=False).encode())),
        "gzip_batches": gz_batches,
        "sealed": sealed,
        "upto": after,
    }


def table(found: dict[str, Any], what: str) -> None:
    n = found["events"]
    print(f"{n} events of {found['cases']} {what}, {found['batches']} batches\n")
    print("| form | bytes | per event | per 10 events |")
    print("|---|---|---|---|")
    for label, key in (
        ("canonical JSON (clear)", "canonical"),
        ("JSON, gzip, one stream", "gzip_stream"),
        ("JSON, gzip, per batch", "gzip_batches"),
        ("sealed envelopes (deflate, AES-GCM, HPKE, ECDSA)", "sealed"),
    ):
        print(f"| {label} | {found[key]:,} | {found[key] / n:.0f} | {found[key] * 10 / n:,.0f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100, help="ten-event cases to add (0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "township"
        init = ["init", "--role", "township", "--region", REGION, "--name", "青山镇便民服务中心"]
        parent = ["--parent-region", COUNTY, "--parent-name", "示范县"]
        for args_ in ([*init, *parent], ["demo"]):
            subprocess.run([*CLI, "--data", str(data), *args_], check=True, capture_output=True)
        demo = asyncio.run(measure(data))
        table(demo, "demo cases")
        if args.cases:
            asyncio.run(add_cases(data, args.cases))
            table(asyncio.run(measure(data, start=demo["upto"])), "ten-event cases")


if __name__ == "__main__":
    main()
