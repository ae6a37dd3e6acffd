"""Every write to the notification centre: telling users, marking read, preferences.

`do_notify` is the one function that creates notifications. It adds to the caller's
transaction (the caller commits, so a notification exists exactly when the event that caused
it does) and never fails on a repeat: rows go in with INSERT … ON CONFLICT DO NOTHING on
`(user_id, dedupe_key)`, which both SQLite and PostgreSQL do atomically, so two workers or a
replayed sync batch cannot tell anyone twice. Each new notification queues a push for the
user's subscribed browsers (sent later by the job, never in the request).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Insert, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db import utcnow
from server.notify.models import (
    KINDS,
    MANDATORY,
    Notification,
    NotificationPreference,
    PushDelivery,
    PushSubscription,
)


def insert_ignoring_repeats(
    session: AsyncSession, model: Any, rows: list[dict[str, Any]]
) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING for this session's database."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(model).values(rows).on_conflict_do_nothing()
    if name == "sqlite":
        return sqlite.insert(model).values(rows).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database: {name}")


async def disabled_for(session: AsyncSession, kind: str, user_ids: Iterable[int]) -> set[int]:
    """The users among `user_ids` who turned `kind` off (never for a mandatory kind)."""
    ids = list(user_ids)
    if kind in MANDATORY or not ids:
        return set()
    query = select(NotificationPreference.user_id).where(
        col(NotificationPreference.user_id).in_(ids),
        NotificationPreference.kind == kind,
        col(NotificationPreference.enabled).is_(False),
    )
    return set((await session.exec(query)).all())


async def do_notify(
    session: AsyncSession,
    *,
    recipients: Iterable[int | None],
    kind: str,
    title: str,
    text: str,
    link: str,
    dedupe_key: str,
    at: dt.datetime | None = None,
) -> list[int]:
    """Tell each recipient once per `dedupe_key`; returns the users newly told. No commit."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    wanted = sorted({user_id for user_id in recipients if user_id is not None})
    wanted = [u for u in wanted if u not in await disabled_for(session, kind, wanted)]
    if not wanted:
        return []
    now = at or utcnow()
    rows = [
        {
            "user_id": user_id,
            "kind": kind,
            "title": title[:100],
            "text": text[:500],
            "link": link[:200],
            "dedupe_key": dedupe_key[:120],
            "created_at": now,
        }
        for user_id in wanted
    ]
    statement = insert_ignoring_repeats(session, Notification, rows).returning(
        col(Notification.user_id)
    )
    told = sorted(set((await session.exec(statement)).scalars().all()))
    await queue_pushes(session, user_ids=told, link=link, at=now)
    return told


async def queue_pushes(
    session: AsyncSession, *, user_ids: list[int], link: str, at: dt.datetime
) -> None:
    """One pending push per subscribed browser of these users (an earlier pending one stays:
    a push only says "something new", the count is read when it is sent)."""
    if not user_ids:
        return
    query = select(PushSubscription.id).where(col(PushSubscription.user_id).in_(user_ids))
    subscriptions = [sid for sid in (await session.exec(query)).all() if sid is not None]
    if not subscriptions:
        return
    rows = [
        {
            "subscription_id": sid,
            "link": link[:200],
            "attempts": 0,
            "next_attempt_at": at,
            "created_at": at,
        }
        for sid in subscriptions
    ]
    await session.exec(insert_ignoring_repeats(session, PushDelivery, rows))


async def do_mark_read(
    session: AsyncSession, *, notification: Notification, at: dt.datetime | None = None
) -> None:
    """Mark one of the user's notifications read (loaded with `access_notification_by_id`)."""
    if notification.read_at is None:
        notification.read_at = at or utcnow()
        session.add(notification)
    await session.commit()


async def do_mark_all_read(
    session: AsyncSession, *, user_id: int, at: dt.datetime | None = None
) -> int:
    """Mark every unread notification of the user read; returns how many."""
    statement = (
        update(Notification)
        .where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
        .values(read_at=at or utcnow())
    )
    result = await session.exec(statement)
    await session.commit()
    return int(result.rowcount or 0)


async def do_set_preferences(
    session: AsyncSession, *, user_id: int, enabled: Iterable[str]
) -> None:
    """Keep the kinds in `enabled` on and turn the others off; mandatory kinds stay on."""
    on = set(enabled) | MANDATORY
    for kind in KINDS:
        row = await session.get(NotificationPreference, (user_id, kind))
        wanted = kind in on
        if row is None and wanted:
            continue
        if row is None:
            row = NotificationPreference(user_id=user_id, kind=kind, enabled=False)
        row.enabled = wanted
        session.add(row)
    await session.commit()


async def unread_count(session: AsyncSession, user_id: int) -> int:
    query = select(func.count()).where(
        col(Notification.user_id) == user_id, col(Notification.read_at).is_(None)
    )
    return int((await session.exec(query)).one())
