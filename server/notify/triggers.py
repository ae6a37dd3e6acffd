"""What each case event tells whom: the hook the case actions and the sync's ingest call.

`do_notify_for_event` runs in the transaction that writes an event here (`do_open_case`,
`do_apply`); `do_notify_for_received_event` in the one that stores an event another node sent
(server/relay/ingest.py). Both decide through `_tell`, so a case tells the same people however
its event arrived. The dedupe key is the event's place in its case (`case id`, `seq`), unique
across nodes, so a repeated batch tells nobody twice.

- `county_decide` arriving at the township that owns the case: the clerk who relayed it, the
  first responsible and the filing village agent; the applicant by SMS.
- `decide` here, on a case of this centre: the filing village agent; the applicant by SMS
  (not for an immediate case: it is delivered in the same sitting).
- `notify_missing` from the county on a relayed case: the relaying clerk, the first
  responsible and the filing agent (the villager must bring the materials).
- `submit` of a case with no first responsible (a village agent filed it): the staff of the
  windows that accept the item.
- `relay` arriving at the county: the staff of the county's windows that decide the item.
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from server.cases.models import CaseRecord
from server.notify.actions import do_notify
from server.notify.recipients import local_user_id, relaying_clerk, window_staff
from server.notify.sms import queue_result_sms
from server.org.codes import RegionCodeError, level_of
from server.settings import Settings


async def do_notify_for_event(
    session: AsyncSession,
    *,
    settings: Settings,
    case: CaseRecord,
    event_kind: str,
    body: dict[str, Any],
    origin: str,
    actor: str = "",
) -> None:
    """Tell whoever this node's event concerns (call after appending it, before the commit)."""
    await _tell(
        session, here=settings.region_code, case=case, kind=event_kind, origin=origin, actor=actor
    )


async def do_notify_for_received_event(
    session: AsyncSession,
    *,
    case: CaseRecord,
    event_kind: str,
    body: dict[str, Any],
    origin: str,
    direction: str,
    actor: str = "",
) -> None:
    """The same for an event received from `origin` (the sending peer), before the commit.

    The node itself is known from the stream: from the parent ("down") come only a township's
    own cases, so it is the case's centre; from a child ("up") it is the child's parent.
    """
    here = case.org_unit_code if direction == "down" else parent_of(origin)
    await _tell(session, here=here, case=case, kind=event_kind, origin=origin, actor=actor)


def parent_of(region: str) -> str:
    try:
        level = level_of(region)
    except RegionCodeError:
        return ""
    if level == "township":
        return region[:6]
    if level == "village":
        return region[:9] + "000"
    return ""


async def _tell(
    session: AsyncSession, *, here: str, case: CaseRecord, kind: str, origin: str, actor: str
) -> None:
    key = f"event:{case.id}:{case.last_seq}"
    link, serial = f"/cases/{case.id}", case.serial
    ours = case.org_unit_code == here
    by = local_user_id(actor, here)
    recipients: list[int | None]
    if kind == "county_decide" and ours and origin != here:
        recipients = [
            await relaying_clerk(session, case, here),
            case.first_responsible_id,
            case.proxy_user_id,
        ]
        await do_notify(
            session,
            recipients=recipients,
            kind="result",
            title="上报件结果已返回",
            text=f"办件 {serial} 县级已作出决定，请及时送达申请人。",
            link=link,
            dedupe_key=key,
        )
        await queue_result_sms(session, case=case, dedupe_key=f"sms:{case.id}:{case.last_seq}")
    elif kind == "decide" and ours:
        await do_notify(
            session,
            recipients=[u for u in [case.proxy_user_id] if u != by],
            kind="result",
            title="代办件已办结",
            text=f"您代办的办件 {serial} 已办结，可告知申请人领取结果。",
            link=link,
            dedupe_key=key,
        )
        if case.kind != "immediate":
            await queue_result_sms(session, case=case, dedupe_key=f"sms:{case.id}:{case.last_seq}")
    elif kind == "notify_missing" and ours and origin != here and case.owner == "county":
        recipients = [
            await relaying_clerk(session, case, here),
            case.first_responsible_id,
            case.proxy_user_id,
        ]
        await do_notify(
            session,
            recipients=recipients,
            kind="supplement",
            title="县级要求补正材料",
            text=f"办件 {serial} 县级要求补正材料，请联系申请人补齐。",
            link=link,
            dedupe_key=key,
        )
    elif kind == "submit" and ours and case.first_responsible_id is None:
        staff = await window_staff(session, centre=here, item_id=case.item_id, deciding=False)
        await do_notify(
            session,
            recipients=staff,
            kind="assigned",
            title="新的代办件待受理",
            text=f"村代办员提交了办件 {serial}，请及时受理。",
            link=link,
            dedupe_key=key,
        )
    elif kind == "relay" and not ours and origin != here and level_of_safe(here) == "county":
        staff = await window_staff(session, centre=here, item_id=case.item_id, deciding=True)
        await do_notify(
            session,
            recipients=staff,
            kind="assigned",
            title="新的上报件待办理",
            text=f"乡镇上报了办件 {serial}，请及时审查决定。",
            link=link,
            dedupe_key=key,
        )


def level_of_safe(region: str) -> str:
    try:
        return level_of(region)
    except RegionCodeError:
        return ""
