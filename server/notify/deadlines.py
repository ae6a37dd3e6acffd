"""Deadline warnings (黄牌预警, 红牌超期) told once per level per case.

The periodic job (`jobs.py`) reads the open accepted cases this node owns, computes each one's
level with the same rules as the lists (`server/cases/deadlines.py`), and for every level not
yet told records it in `notification_sent` (INSERT … ON CONFLICT DO NOTHING: of two workers
only one wins) and tells the first responsible and the centre's window leads. A case that
jumps straight to red is told red only. Deadline warnings cannot be turned off.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.calendar.queries import load_calendar
from server.cases.deadlines import LEVEL_NAMES, level_of
from server.cases.machine import CLOSED
from server.cases.models import CaseRecord
from server.db import utcnow
from server.notify.actions import do_notify, insert_ignoring_repeats
from server.notify.models import NotificationSent
from server.notify.recipients import window_leads
from server.policy.queries import load_policy

TEXTS = {
    "yellow": "办件 {serial} 已用去大部分办理时限，请抓紧办理。",
    "red": "办件 {serial} 已超过办理期限，请立即处理并说明原因。",
}


async def do_notify_deadlines(
    session: AsyncSession, *, here: str, role: str, now: dt.datetime | None = None
) -> int:
    """Tell every yellow or red level not yet told; returns how many levels were told."""
    now = now or utcnow()
    calendar = await load_calendar(session)
    percent = (await load_policy(session)).warning_percent
    owner = "county" if role == "county" else "township"
    query = select(CaseRecord).where(
        col(CaseRecord.state).not_in(sorted(CLOSED)),
        col(CaseRecord.accepted_at).is_not(None),
        col(CaseRecord.due_at).is_not(None),
        col(CaseRecord.completed_at).is_(None),
        CaseRecord.owner == owner,
    )
    told = 0
    for case in (await session.exec(query)).all():
        level = level_of(case, now=now, calendar=calendar, warning_percent=percent)
        if level == "none":
            continue
        row = {"case_id": case.id, "level": level, "at": now}
        statement = insert_ignoring_repeats(session, NotificationSent, [row]).returning(
            col(NotificationSent.case_id)
        )
        if (await session.exec(statement)).first() is None:
            continue  # this level was told before
        centre = case.org_unit_code if role == "township" else here
        await do_notify(
            session,
            recipients=[case.first_responsible_id, *await window_leads(session, centre)],
            kind="deadline",
            title=f"{LEVEL_NAMES[level]}：{case.serial}",
            text=TEXTS[level].format(serial=case.serial),
            link=f"/cases/{case.id}",
            dedupe_key=f"deadline:{case.id}:{level}",
            at=now,
        )
        told += 1
    await session.commit()
    return told
