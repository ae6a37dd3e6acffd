"""A file is reached only through a case: the case's `attach` events say which files are its.

`access_attachment_by_case` is the only way to open a file for a user: the user must see the
case (`access_case_by_id`) and one of the case's `attach` events must name the file. Anything
else, a file that does not exist or one linked only to another case, is the same 404, so a
hash reveals nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.attachments.store import is_complete
from server.auth.access import NotFound
from server.auth.models import User
from server.cases.access import access_case_by_id
from server.cases.events import events_of, open_body
from server.cases.models import CaseEvent, CaseRecord
from server.crypto.fields import FieldCipher, FieldDecryptError

NOT_FOUND = "没有找到这个扫描件"
SCAN_BATCH = 500  # attach events opened at a time when looking for who names a file


@dataclass(frozen=True)
class LinkedScan:
    """One `attach` event of a case: which material, which file."""

    seq: int
    at: dt.datetime
    actor: str
    material: str
    sha256: str
    name: str
    media_type: str
    size: int


def linked_scans(events: Iterable[tuple[CaseEvent, dict[str, Any]]]) -> list[LinkedScan]:
    """The case's scans in the order they were attached, from its opened events."""
    return [
        LinkedScan(
            seq=event.seq,
            at=event.at,
            actor=event.actor,
            material=str(body.get("material", "")),
            sha256=str(body.get("sha256", "")),
            name=str(body.get("name", "")),
            media_type=str(body.get("media_type", "")),
            size=int(body.get("size", 0)),
        )
        for event, body in events
        if event.kind == "attach"
    ]


async def scans_of_case(
    session: AsyncSession, cipher: FieldCipher, case_id: str
) -> list[LinkedScan]:
    events = await events_of(session, case_id)
    return linked_scans((e, open_body(cipher, e)) for e in events if e.kind == "attach")


async def files_in_cases(
    session: AsyncSession, cipher: FieldCipher, sha256s: Collection[str]
) -> set[str]:
    """Which of these files some case's `attach` event names. Every `attach` event is opened (a
    body is sealed), a batch at a time; one that does not open might name any of them."""
    wanted, named, after = set(sha256s), set[str](), ""
    while wanted - named:
        query = (
            select(CaseEvent)
            .where(CaseEvent.kind == "attach", col(CaseEvent.id) > after)
            .order_by(col(CaseEvent.id))
            .limit(SCAN_BATCH)
        )
        batch = (await session.exec(query)).all()
        if not batch:
            break
        for event in batch:
            try:
                sha256 = open_body(cipher, event).get("sha256")
            except (FieldDecryptError, ValueError):
                return wanted
            if sha256 in wanted:
                named.add(sha256)
        after = batch[-1].id
    return named


async def access_attachment_by_case(
    session: AsyncSession, cipher: FieldCipher, actor: User, case_id: str, sha256: str
) -> tuple[CaseRecord, LinkedScan]:
    """The case and the scan's first link to it, if the actor may see both; else NotFound."""
    case = await access_case_by_id(session, actor, case_id)
    for scan in await scans_of_case(session, cipher, case.id):
        if scan.sha256 == sha256 and await is_complete(session, sha256):
            return case, scan
    raise NotFound(NOT_FOUND)
