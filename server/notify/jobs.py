"""The notification job: deadline warnings, pushes and texts that are due.

One round (`run_once`) is what `yichuang notify --once` runs and what the served app's loop
runs every `TICK_S` seconds (deadline warnings every `DEADLINE_EVERY_S`). Every step claims its
rows in the database, so several workers (or a CLI beside the server) never send one thing
twice; nothing is kept in memory between rounds. Being the app's one periodic loop, it also
removes agents' photo uploads that no case took (server/agent/upload_limits.py), on the
deadline warnings' cadence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette

from server.agent.upload_limits import do_remove_stale_uploads
from server.crypto.fields import FieldCipher
from server.db import Database
from server.notify.deadlines import do_notify_deadlines
from server.notify.gateways import SmsGateway, load_gateway
from server.notify.push import PushConfig, PushReport, load_push_config, send_due_pushes
from server.notify.sms import SmsReport, send_due_sms
from server.notify.vapid import ensure_vapid_key
from server.settings import Settings

log = logging.getLogger("yichuang.notify")
TICK_S = 15.0
DEADLINE_EVERY_S = 300.0


@dataclass
class JobReport:
    deadlines: int = 0
    stale_uploads: int = 0  # agents' photo uploads removed, no case having taken them
    pushes: PushReport = field(default_factory=PushReport)
    sms: SmsReport = field(default_factory=SmsReport)


async def run_once(
    db: Database,
    cipher: FieldCipher,
    settings: Settings,
    *,
    gateway: SmsGateway | None = None,
    push: PushConfig | None = None,
    deadlines: bool = True,
    stale_uploads: bool = True,
) -> JobReport:
    """One round; the gateway and `[push]` come from node.toml when not given."""
    report = JobReport()
    if deadlines:
        async with db.session() as session:
            report.deadlines = await do_notify_deadlines(
                session, here=settings.region_code, role=settings.role
            )
    if stale_uploads:
        async with db.session() as session:
            report.stale_uploads = await do_remove_stale_uploads(session, cipher)
    report.pushes = await send_due_pushes(
        db, ensure_vapid_key(settings.data_dir), config=push or load_push_config(settings)
    )
    report.sms = await send_due_sms(db, cipher, gateway or load_gateway(settings.data_dir))
    return report


@contextlib.asynccontextmanager
async def background_notify(app: Starlette) -> AsyncIterator[None]:
    """The job as a task of the served app's lifespan, cancelled cleanly at shutdown."""
    settings: Settings = app.state.settings
    gateway = load_gateway(settings.data_dir)
    push: PushConfig = app.state.push  # read by create_app, like the API's subscriptions

    async def loop() -> None:
        next_deadlines = 0.0
        while True:
            due = time.monotonic() >= next_deadlines
            try:
                await run_once(
                    app.state.db,
                    app.state.cipher,
                    settings,
                    gateway=gateway,
                    push=push,
                    deadlines=due,
                    stale_uploads=due,
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
