"""The unread count every page shows in its header, read once per page request.

Only for a signed-in user's request of a page (not the API, static files or the stream), after
the identity middleware has put the user in the scope; templates read `unread_count`. A POST
too: a form sent back with its mistakes is a whole page, header and badge included.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from server.db import Database
from server.notify.actions import unread_count

SKIP = ("/api/", "/static/", "/notifications/stream")


class UnreadCountMiddleware:
    def __init__(self, app: ASGIApp, *, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["unread_count"] = None
            user = scope.get("user")
            if user is not None and not scope["path"].startswith(SKIP):
                async with self.db.session() as session:
                    scope["unread_count"] = await unread_count(session, user.uid)
        await self.app(scope, receive, send)
