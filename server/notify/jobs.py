"""The notification job: deadline warnings, pushes and texts that are due.

One round (`run_once`) is what `yichuang notify --once` runs and what the served app's loop
runs every `TICK_S` seconds (deadline warnings every `DEADLINE_EVERY_S`). Every step claims its
rows in the database, so several workers (or a CLI beside the server) never send one thing
twice; nothing is kept in memory between rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette

from server.crypto.fields import FieldCipher
from server.db import Database
from server.notify.deadlines import do_notify_deadlines
from server.notify.gateways import SmsGateway, load_gateway
from server.notify.push import PushReport, send_due_pushes
from server.notify.sms import SmsReport, send_due_sms
from server.notify.vapid import ensure_vapid_key
from server.settings import SETTINGS_FILE, Settings

log = logging.getLogger("yichuang.notify")
TICK_S = 15.0
DEADLINE_EVERY_S = 300.0


@dataclass
class JobReport:
    deadlines: int = 0
    pushes: PushReport = field(default_factory=PushReport)
    sms: SmsReport = field(default_factory=SmsReport)


def push_subject(settings: Settings) -> str:
    """The VAPID `sub` claim: node.toml's `[push] subject`, else the public https address."""
    path = settings.data_dir / SETTINGS_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except tomllib.TOMLDecodeError:
        raw = {}
    subject = str(raw.get("push", {}).get("subject", ""))
    if subject.startswith(("mailto:", "https://")):
        return subject
    if settings.public_url.startswith("https://"):
        return settings.public_url
    return "mailto:admin@yichuang.invalid"


async def run_once(
    db: Database,
    cipher: FieldCipher,
    settings: Settings,
    *,
    gateway: SmsGateway | None = None,
    deadlines: bool = True,
) -> JobReport:
    report = JobReport()
    if deadlines:
        async with db.session() as session:
            report.deadlines = await do_notify_deadlines(
                session, here=settings.region_code, role=settings.role
            )
    report.pushes = await send_due_pushes(
        db, ensure_vapid_key(settings.data_dir), subject=push_subject(settings)
    )
    report.sms = await send_due_sms(db, cipher, gateway or load_gateway(settings.data_dir))
    return report


@contextlib.asynccontextmanager
async def background_notify(app: Starlette) -> AsyncIterator[None]:
    """The job as a task of the served app's lifespan, cancelled cleanly at shutdown."""
    settings: Settings = app.state.settings
    gateway = load_gateway(settings.data_dir)

    async def loop() -> None:
        next_deadlines = 0.0
        while True:
            due = time.monotonic() >= next_deadlines
            try:
                await run_once(
                    app.state.db, app.state.cipher, settings, gateway=gateway, deadlines=due
                )
            except Exception:  # a bad round must not end the loop; the next one tries again
                log.exception("notification job failed")
            if due:
                next_deadlines = time.monotonic() + DEADLINE_EVERY_S
            await asyncio.sleep(TICK_S)

    task = asyncio.create_task(loop(), name="yichuang-notify")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
