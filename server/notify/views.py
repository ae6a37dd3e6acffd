"""The notification centre's pages: the list, marking read, preferences, the live stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.access import current_user
from server.context import flash, get_db, safe_next
from server.forms import whole_number
from server.notify.access import access_notification_by_id
from server.notify.actions import do_mark_all_read, do_mark_read, do_set_preferences
from server.notify.models import KINDS, MANDATORY, Notification
from server.notify.queries import enabled_kinds, newest_id, notification_page, unread_count
from server.templating import render
from server.users.queries import Page

# The stream polls the database per client (no state in memory another worker would need,
# DESIGN.md §9) and ends after a while: the browser reconnects by itself, and a session that
# ended meanwhile is noticed then.
STREAM_POLL_S = 3.0
STREAM_LIFETIME_S = 300.0
STREAM_RETRY_MS = 5000


@dataclass
class NotificationListPage:
    page: Page[Notification]
    kinds: dict[str, str]
    unread: int


@dataclass
class NotificationPreferencesPage:
    kinds: dict[str, str]
    enabled: set[str]
    mandatory: frozenset[str]


def _page_number(request: Request) -> int:
    value = request.query_params.get("page", "")
    return whole_number(value) or 1


async def notification_list(request: Request) -> Response:
    user = current_user(request)
    async with get_db(request).session() as session:
        page = await notification_page(session, user.uid, page=_page_number(request))
        unread = await unread_count(session, user.uid)
    return render(
        request, "notify/list.html", NotificationListPage(page, KINDS, unread), block="results"
    )


async def notification_read(request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    async with get_db(request).session() as session:
        row = await access_notification_by_id(
            session, user, int(request.path_params["notification_id"])
        )
        await do_mark_read(session, notification=row)
    return RedirectResponse(safe_next(str(form.get("next", "")), "/notifications"), 303)


async def notification_read_all(request: Request) -> Response:
    user = current_user(request)
    async with get_db(request).session() as session:
        count = await do_mark_all_read(session, user_id=user.uid)
    flash(request, f"已将 {count} 条消息标为已读。" if count else "没有未读消息。")
    return RedirectResponse("/notifications", 303)


async def notification_preferences(request: Request) -> Response:
    user = current_user(request)
    async with get_db(request).session() as session:
        enabled = await enabled_kinds(session, user.uid)
    page = NotificationPreferencesPage(KINDS, enabled, MANDATORY)
    return render(request, "notify/preferences.html", page)


async def notification_preferences_update(request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    chosen = [str(value) for value in form.getlist("kind") if value in KINDS]
    async with get_db(request).session() as session:
        await do_set_preferences(session, user_id=user.uid, enabled=chosen)
    flash(request, "消息设置已保存。期限预警和系统消息总会提醒。")
    return RedirectResponse("/notifications/preferences", 303)


async def notification_stream(request: Request) -> Response:
    """Server-sent events: `count` whenever the unread count or the newest message changes."""
    user = current_user(request)
    db = get_db(request)

    # Not an EventSource (a script, a link checker): the current count once, then the end.
    once = "text/event-stream" not in request.headers.get("accept", "")

    async def events() -> AsyncIterator[dict[str, Any]]:
        last: tuple[int, int] | None = None
        ends = time.monotonic() + STREAM_LIFETIME_S
        while True:
            async with db.session() as session:  # held for the query only
                state = (await unread_count(session, user.uid), await newest_id(session, user.uid))
            if state != last:
                last = state
                data = json.dumps({"count": state[0], "newest": state[1]})
                yield {"event": "count", "data": data, "retry": STREAM_RETRY_MS}
            if once or time.monotonic() >= ends:
                return
            await asyncio.sleep(STREAM_POLL_S)

    return EventSourceResponse(
        events(),
        ping=15,
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )
