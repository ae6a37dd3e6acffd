"""How many events a second the county ingests from a township's up stream (SQLite, PostgreSQL).

A township data directory gets the demo data (`init`, `demo`) and then `--cases` promised cases
with ten events each (submit, accept, start_review, notify_missing, supplement, suspend,
resume, decide, deliver, rate), opened and moved by the demo clerk through the real actions.
Its up stream is read and cut into batches as `yichuang sync` does (`pending_up`, under
32 KiB), each batch sealed to the county's key.

For each backend a county is made (`init`, `demo` for the catalogue), the township enrolled as
its child (peer and key written directly, as tests/relay_nodes.py does), and every batch handed
to `serve_up`, the function behind `POST /api/sync/up`: open and check the envelope, refuse a
replay, apply each event in its own transaction (chain, state machine, projection, notices),
move the cursor, seal the ack. The timer covers exactly those calls; HTTP is not included.
PostgreSQL gets a throwaway database on --pg (default the test server), dropped at the end,
and is skipped with a message when unreachable.

    .venv/bin/python bench/sync_ingest.py [--cases 300] [--pg postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import col, select

import server.models  # noqa: F401  (every table, for the foreign keys)
from server.auth.models import User
from server.cases.actions import Intake, do_apply, do_open_case
from server.cases.demo import demo_person
from server.cases.machine import Command
from server.cases.models import CaseEvent, CaseRecord
from server.catalog.models import CatalogItem, CatalogItemVersion
from server.catalog.queries import claimed_item_ids
from server.crypto.fields import FieldCipher
from server.db import Database
from server.nodes.keys import ensure_node_keys, node_keys
from server.nodes.models import NodePeer
from server.nodes.peers import do_add_peer_key
from server.relay.feed import pending_up
from server.relay.models import SyncStatus
from server.relay.service import serve_up
from server.relay.wire import encode
from server.settings import Settings, load_settings
from sync.envelope import seal

CLI = [sys.executable, "-m", "server"]
COUNTY, TOWNSHIP = "990102", "990102101000"
COUNTY_NAME, TOWNSHIP_NAME = "示范县政务服务中心", "青山镇便民服务中心"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"

# Ten events a case: the whole life of a promised case with one notice and one suspension.
STEPS: list[tuple[Command, dict[str, Any]]] = [
    ("accept", {}),
    ("start_review", {}),
    ("notify_missing", {"missing": ["户口簿", "近期免冠照片"]}),
    ("supplement", {}),
    ("suspend", {"reason": "需要现场核查，等待核查结果"}),
    ("resume", {}),
    ("decide", {"outcome": "approve"}),
    ("deliver", {"method": "window"}),
    ("rate", {"score": 5}),
]


def cli(data: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [*CLI, "--data", str(data), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        raise SystemExit(f"yichuang {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')} · {os.cpu_count()} cores, {cpu} · "
        f"{platform.system()} {platform.release()} · Python {platform.python_version()} · "
        f"load average {load}"
    )


# --- the township and its cases -----------------------------------------------------------------


def make_township(data: Path, parent_url: str = "") -> None:
    """`init` and `demo` of the demo township (its clerk, catalogue claims and 36 cases)."""
    parent = ["--parent-region", COUNTY, "--parent-name", "示范县"]
    if parent_url:
        parent += ["--parent-url", parent_url]
    cli(data, "init", "--role", "township", "--region", TOWNSHIP, "--name", TOWNSHIP_NAME, *parent)
    cli(data, "demo")


async def add_cases(data: Path, count: int) -> int:
    """Open `count` promised cases and take each through ten events; returns events added."""
    settings = load_settings(data)
    db = Database(settings.effective_database_url)
    cipher = FieldCipher(settings.data_key)
    async with db.session() as session:
        clerk = (await session.exec(select(User).where(User.username == "zhen.clerk"))).one()
        claimed = await claimed_item_ids(session, clerk.org_unit_code)
        rows = (
            await session.exec(
                select(CatalogItem.id, CatalogItemVersion.handling_kind)
                .join(CatalogItemVersion, col(CatalogItemVersion.item_id) == col(CatalogItem.id))
                .where(CatalogItemVersion.version == CatalogItem.current_version)
            )
        ).all()
    item = next(i for i, kind in rows if kind == "promised" and i in claimed)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    added = 0
    for index in range(count):
        person = demo_person(1000 + index)
        at = start + dt.timedelta(minutes=index)
        async with db.session() as session:
            case, _ = await do_open_case(
                session=session,
                cipher=cipher,
                settings=settings,
                actor=clerk,
                at=at,
                intake=Intake(
                    item_id=item,
                    channel="window",
                    applicant_name=person.name,
                    applicant_id_type="resident_id",
                    applicant_id=person.id_number,
                    applicant_phone=person.phone,
                    applicant_address="青山镇青山村",
                ),
            )
            for step, (command, body) in enumerate(STEPS, start=1):
                await do_apply(
                    session=session,
                    cipher=cipher,
                    settings=settings,
                    actor=clerk,
                    case=case,
                    command=command,
                    body=dict(body),
                    at=at + dt.timedelta(hours=step),
                )
        added += 1 + len(STEPS)
    await db.dispose()
    return added


async def township_events(data: Path) -> tuple[int, int]:
    """(cases, events) the township holds."""
    settings = load_settings(data)
    db = Database(settings.effective_database_url)
    async with db.session() as session:
        cases = len((await session.exec(select(CaseRecord.id))).all())
        events = len((await session.exec(select(CaseEvent.id))).all())
    await db.dispose()
    return cases, events


async def sealed_batches(data: Path, county: Settings) -> tuple[list[bytes], int, list[int]]:
    """The township's whole up stream, cut and sealed as `yichuang sync` does."""
    settings = load_settings(data)
    db = Database(settings.effective_database_url)
    cipher = FieldCipher(settings.data_key)
    me, to = node_keys(settings).current, ensure_node_keys(county.data_dir).public()
    after, sealed, sizes = 0, [], []
    async with db.session() as session:
        while True:
            batch = await pending_up(session, cipher, parent=COUNTY, after=after)
            if not batch.events:
                break
            payload = {
                "type": "up",
                "from": TOWNSHIP,
                "events": batch.events,
                "upto": batch.upto,
                "sent_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            }
            sealed.append(seal(encode(payload), sender=me, recipients=[to]))
            sizes.append(len(batch.events))
            after = batch.upto
    await db.dispose()
    return sealed, sum(sizes), sizes


# --- the county ---------------------------------------------------------------------------------


def make_county(data: Path, database_url: str = "") -> Settings:
    env = {"DATABASE_URL": database_url} if database_url else None
    cli(data, "init", "--role", "county", "--region", COUNTY, "--name", COUNTY_NAME, env=env)
    cli(data, "demo", env=env)
    settings = load_settings(data)
    return dataclasses.replace(settings, database_url=database_url) if database_url else settings


async def enrol(county: Settings, township: Path) -> None:
    """The township as the county's child, with its key (what `enrol-code` and `join` store)."""
    db = Database(county.effective_database_url)
    async with db.session() as session:
        session.add(NodePeer(region_code=TOWNSHIP, name=TOWNSHIP_NAME, relation="child"))
        await session.flush()
        await do_add_peer_key(
            session=session,
            region_code=TOWNSHIP,
            keys=ensure_node_keys(township).public(),
            replace="revoke",
        )
        await session.commit()
    await db.dispose()


async def ingest(county: Settings, batches: list[bytes]) -> tuple[list[float], int]:
    """Hand every batch to `serve_up`, one after the other; (seconds each, events stored)."""
    db = Database(county.effective_database_url)
    cipher, keyring = FieldCipher(county.data_key), node_keys(county)
    async with db.session() as session:  # warm the pool and the imports, outside the timer
        await session.exec(select(NodePeer))
    seconds = []
    for sealed in batches:
        started = time.perf_counter()
        async with db.session() as session:
            await serve_up(session, cipher, keyring, sealed)
        seconds.append(time.perf_counter() - started)
    async with db.session() as session:
        status = await session.get(SyncStatus, TOWNSHIP)
        stored = status.pushed if status else 0
    await db.dispose()
    return seconds, stored


class ThrowawayPostgres:
    """A database created on the server of `base` and dropped (as tests/conftest.py does)."""

    def __init__(self, base: str) -> None:
        self.base = make_url(base).set(drivername="postgresql+psycopg")
        self.name = f"yc_bench_{uuid.uuid4().hex[:12]}"

    def _run(self, sql: str) -> None:
        engine = create_engine(self.base, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(sql))
        finally:
            engine.dispose()

    def __enter__(self) -> str:
        self._run(f'CREATE DATABASE "{self.name}"')
        return self.base.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *_exc: object) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass(frozen=True)
class Result:
    label: str
    batches: int
    events: int
    seconds: float
    first: float  # ms an event in the first tenth of the batches
    last: float  # ms an event in the last tenth


def run_backend(label: str, root: Path, township: Path, database_url: str = "") -> Result:
    county = make_county(root / f"county-{label}", database_url)
    asyncio.run(enrol(county, township))
    batches, events, sizes = asyncio.run(sealed_batches(township, county))
    seconds, stored = asyncio.run(ingest(county, batches))
    if stored != events:
        raise SystemExit(f"{label}: the county stored {stored} of {events} events")
    tenth = max(1, len(batches) // 10)

    def per_event(part: slice) -> float:
        return 1000 * sum(seconds[part]) / sum(sizes[part])

    return Result(
        label,
        len(batches),
        events,
        sum(seconds),
        per_event(slice(None, tenth)),
        per_event(slice(-tenth, None)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="cases of ten events to add")
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG)
    args = parser.parse_args()
    print(f"# {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        township = root / "township"
        make_township(township)
        started = time.perf_counter()
        asyncio.run(add_cases(township, args.cases))
        made = time.perf_counter() - started
        cases, events = asyncio.run(township_events(township))
        print(
            f"# township: {cases} cases, {events} events "
            f"({args.cases} ten-event cases added in {made:.1f} s: "
            f"{args.cases * 10 / made:.0f} events/s through the local actions, SQLite)\n"
        )
        results = [run_backend("SQLite", root, township)]
        try:
            with ThrowawayPostgres(args.pg) as url:
                results.append(run_backend("PostgreSQL", root, township, url))
        except Exception as problem:  # unreachable server, no rights: say so and go on
            if "OperationalError" not in type(problem).__name__ and not isinstance(
                problem, OSError
            ):
                raise
            print(f"# PostgreSQL skipped: {type(problem).__name__}: {str(problem)[:200]}")
    print(
        "| county database | batches | events | seconds | events/s | ms/event "
        "| ms/event, first tenth | ms/event, last tenth |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.label} | {r.batches} | {r.events:,} | {r.seconds:.1f} "
            f"| {r.events / r.seconds:,.0f} | {r.seconds * 1000 / r.events:.2f} "
            f"| {r.first:.2f} | {r.last:.2f} |"
        )


if __name__ == "__main__":
    main()
