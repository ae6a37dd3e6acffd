"""create_app(): the Starlette app of one node, with the JSON API mounted at /api."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import cast

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.types import ASGIApp

from server.api.app import create_api
from server.auth.sessions import SessionMiddleware
from server.crypto.fields import FieldCipher
from server.db import Database
from server.errors import EXCEPTION_HANDLERS, csrf_rejected
from server.nodes.keys import ensure_node_keys, load_keyring
from server.notify.badge import UnreadCountMiddleware
from server.notify.jobs import background_notify
from server.notify.push import load_push_config
from server.notify.vapid import ensure_vapid_key
from server.relay.background import background_sync
from server.relay.clock import seed_clock_at_start
from server.routes import ROUTES
from server.settings import Settings
from server.templating import ASSETS
from server.web import (
    CsrfMiddleware,
    IdentityMiddleware,
    RequestLogMiddleware,
    SecurityHeadersMiddleware,
)

log = logging.getLogger("yichuang")


def create_app(
    settings: Settings, *, sync_loop: bool = False, notify_loop: bool = False
) -> Starlette:
    push = load_push_config(settings)  # a bad [push] hosts stops the start, not a request
    db = Database(settings.effective_database_url)
    api = create_api(settings=settings, db=db, push=push)
    if "vendor/htmx.min.js" not in ASSETS:
        log.warning("htmx is not installed (pwa/node_modules): pages work, but without htmx")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await seed_clock_at_start(db, settings.region_code)  # event stamps never run back
        async with (
            api.lifespan(),
            background_sync(app) if sync_loop else nullcontext(),
            background_notify(app) if notify_loop else nullcontext(),
        ):
            yield
        await db.dispose()

    app = Starlette(
        routes=[*ROUTES, Mount("/api", app=cast(ASGIApp, api), name="api")],
        middleware=[
            Middleware(RequestLogMiddleware),
            Middleware(SecurityHeadersMiddleware),
            Middleware(GZipMiddleware, minimum_size=800),
            Middleware(
                SessionMiddleware,
                secret_key=settings.session_key,
                max_age=settings.session_max_age,
                idle=settings.session_idle,
            ),
            Middleware(IdentityMiddleware, db=db),
            Middleware(UnreadCountMiddleware, db=db),
            Middleware(CsrfMiddleware, reject=csrf_rejected),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.push = push
    app.state.cipher = FieldCipher(settings.data_key)
    ensure_node_keys(settings.data_dir)
    app.state.node_keys = load_keyring(settings.data_dir)
    ensure_vapid_key(settings.data_dir)  # Web Push: made on first start, never replaced
    return app


def create_app_from_env() -> Starlette:
    """For uvicorn's factory mode: the data directory comes from YICHUANG_DATA."""
    from server.cli import configure_logging
    from server.settings import load_settings

    configure_logging()
    # `yichuang serve`: sync and the notification job in the background
    return create_app(load_settings(), sync_loop=True, notify_loop=True)
