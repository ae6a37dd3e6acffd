"""The sync loop as a task of a served township's lifespan, cancelled cleanly at shutdown.

Started only by `yichuang serve` (create_app_from_env), never by tests' apps. After each round
it keeps the measured clock skew on app.state for the banner every page shows
(server/templating.py `clock_warning`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from server.nodes.queries import parent_peer
from server.relay.client import RoundReport, sync_loop
from server.relay.models import SyncStatus


async def load_clock_skew(app: Starlette) -> None:
    """The last skew measured with the parent (by the loop or `yichuang sync --once`)."""
    async with app.state.db.session() as session:
        parent = await parent_peer(session)
        status = await session.get(SyncStatus, parent.region_code) if parent else None
    app.state.clock_skew = status.clock_skew_seconds if status else None


@contextlib.asynccontextmanager
async def background_sync(app: Starlette) -> AsyncIterator[None]:
    settings = app.state.settings
    if settings.role != "township":
        yield
        return
    await load_clock_skew(app)
    app.state.sync_nudge = asyncio.Event()

    def on_round(report: RoundReport | None) -> None:
        if report is not None and report.skew_seconds is not None:
            app.state.clock_skew = report.skew_seconds

    task = asyncio.create_task(
        sync_loop(
            app.state.db,
            app.state.cipher,
            settings,
            nudge=app.state.sync_nudge,
            on_round=on_round,
        ),
        name="yichuang-sync",
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
