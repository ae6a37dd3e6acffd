"""Every write to a case goes through here: one event appended and the projection updated,
in one transaction, after the access and state checks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, TypeGuard, cast

from sqlmodel.ext.asyncio.session import AsyncSession

from server.attachments.media import OTHER_MATERIAL
from server.attachments.models import Attachment
from server.attachments.store import is_complete
from server.auth.access import Forbidden
from server.auth.models import Role, User
from server.calendar.queries import load_calendar
from server.calendar.rules import LOCAL_TZ, Unit
from server.cases.commands import command_problems
from server.cases.deadlines import moved_due, paused_working_days
from server.cases.events import append_event
from server.cases.identity import (
    ID_TYPES,
    id_problem,
    mobile_problem,
    normalise_id_number,
    normalise_mobile,
)
from server.cases.machine import (
    CLOSED,
    COMMANDS,
    CaseFacts,
    Command,
    Kind,
    Node,
    State,
    allowed,
    clock_of,
    next_owner,
    next_state,
)
from server.cases.models import APPLICANT_KINDS, CHANNELS, CaseEvent, CaseRecord
from server.cases.serial_counter import do_next_serial
from server.catalog.models import CatalogItem
from server.catalog.queries import ItemView, claimed_item_ids, item_view
from server.crypto.fields import FieldCipher
from server.db import utcnow
from server.forms import ValidationFailed
from server.notify.triggers import do_notify_for_event
from server.settings import Settings
from sync.ids import uuid7

ID_CONTEXT = "case_record.applicant_id"
PHONE_CONTEXT = "case_record.applicant_phone"
ADDRESS_CONTEXT = "case_record.applicant_address"
INTAKE_ROLES = frozenset({Role.CLERK, Role.WINDOW_LEAD, Role.ADMIN, Role.VILLAGE_AGENT})


@dataclass(frozen=True)
class ReceivedMaterial:
    """One material of the item's checklist as received at the window."""

    name: str
    original: bool = False
    copy: bool = False


@dataclass
class Intake:
    """What the clerk (or the village agent) fills in to open a case."""

    item_id: int
    channel: str
    applicant_name: str
    applicant_id_type: str
    applicant_id: str
    applicant_kind: str = "natural"
    applicant_phone: str = ""
    applicant_address: str = ""
    materials: list[ReceivedMaterial] = field(default_factory=list)


@dataclass(frozen=True)
class ApplicantInClear:
    id_number: str
    phone: str
    address: str


def applicant_in_clear(cipher: FieldCipher, case: CaseRecord) -> ApplicantInClear:
    """The applicant's encrypted fields opened; callers decide what to mask."""

    def opened(token: str | None, context: str) -> str:
        return cipher.decrypt(token, context=context) if token else ""

    return ApplicantInClear(
        id_number=opened(case.applicant_id_enc, ID_CONTEXT),
        phone=opened(case.applicant_phone_enc, PHONE_CONTEXT),
        address=opened(case.applicant_address_enc, ADDRESS_CONTEXT),
    )


def actor_ref(settings: Settings, user: User) -> str:
    """Who acted, unique across nodes: the node's region code and the local user id."""
    return f"{settings.region_code}/{user.uid}"


def id_hash(cipher: FieldCipher, id_type: str, value: str) -> str:
    return cipher.blind_index(f"{id_type}:{value}", context=ID_CONTEXT)


async def _check_intake(
    session: AsyncSession, actor: User, intake: Intake
) -> tuple[dict[str, str], list[str], CatalogItem | None]:
    errors: dict[str, str] = {}
    warnings: list[str] = []
    intake.applicant_name = intake.applicant_name.strip()
    if not 1 <= len(intake.applicant_name) <= 100:
        errors["applicant_name"] = "请填写申请人姓名（或单位名称），不超过 100 个字"
    if intake.applicant_kind not in APPLICANT_KINDS:
        errors["applicant_kind"] = "请选择申请人类型：自然人或法人"
    if intake.channel not in CHANNELS:
        errors["channel"] = "请选择申请渠道"
    if intake.applicant_id_type not in ID_TYPES:
        errors["applicant_id_type"] = "请选择证件类型"
    else:
        intake.applicant_id = normalise_id_number(intake.applicant_id)
        error, warning = id_problem(intake.applicant_id_type, intake.applicant_id)
        if error:
            errors["applicant_id"] = error
        if warning:
            warnings.append(warning)
    if intake.applicant_phone:
        if problem := mobile_problem(intake.applicant_phone):
            errors["applicant_phone"] = problem
        else:
            intake.applicant_phone = normalise_mobile(intake.applicant_phone)
    if len(intake.applicant_address) > 500:
        errors["applicant_address"] = "地址不能超过 500 个字"
    item = await session.get(CatalogItem, intake.item_id)
    if item is None or item.status != "active":
        errors["item_id"] = "请从事项目录中选择一个在用的事项"
        item = None
    elif item.id not in await claimed_item_ids(session, centre_of(actor)):
        errors["item_id"] = "本中心没有认领这个事项，请先在“本中心办理的事项”中勾选"
    return errors, warnings, item


def centre_of(actor: User) -> str:
    """The centre a user works for: a village agent works for their township's centre."""
    code = actor.org_unit_code
    return code if code.endswith("000") or len(code) == 6 else f"{code[:9]}000"


async def do_open_case(
    *,
    session: AsyncSession,
    cipher: FieldCipher,
    settings: Settings,
    actor: User,
    intake: Intake,
    at: dt.datetime | None = None,
) -> tuple[CaseRecord, list[str]]:
    """Open a case at intake (state `submitted`); returns it and any warnings to show."""
    if actor.role not in INTAKE_ROLES:
        raise Forbidden("您的角色不能受理办件")
    errors, warnings, item = await _check_intake(session, actor, intake)
    if errors or item is None:
        raise ValidationFailed(errors)
    view = await item_view(session, item.id or 0)
    known = {m.name for m in view.materials}
    if unknown := [m.name for m in intake.materials if m.name not in known]:
        raise ValidationFailed(
            {
                "materials": f"{'、'.join(unknown)}不是本事项"
                f"（第 {view.version.version} 版）的申请材料"
            }
        )
    now = at or utcnow()
    centre = centre_of(actor)
    case = CaseRecord(
        id=str(uuid7()),
        serial=await do_next_serial(session, centre, now.astimezone(LOCAL_TZ).date()),
        org_unit_code=centre,
        item_id=item.id or 0,
        item_version=view.version.version,
        kind=view.version.handling_kind,
        state="submitted",
        channel=intake.channel,
        applicant_kind=intake.applicant_kind,
        applicant_name=intake.applicant_name,
        applicant_id_type=intake.applicant_id_type,
        applicant_id_enc=cipher.encrypt(intake.applicant_id, context=ID_CONTEXT),
        applicant_id_hash=id_hash(cipher, intake.applicant_id_type, intake.applicant_id),
        applicant_phone_enc=cipher.encrypt(intake.applicant_phone, context=PHONE_CONTEXT)
        if intake.applicant_phone
        else None,
        applicant_address_enc=cipher.encrypt(intake.applicant_address, context=ADDRESS_CONTEXT)
        if intake.applicant_address
        else None,
        proxy_user_id=actor.id if actor.role == Role.VILLAGE_AGENT else None,
        first_responsible_id=actor.id if actor.role != Role.VILLAGE_AGENT else None,
        received_at=now,
    )
    body: dict[str, Any] = {
        "serial": case.serial,
        "item": case.item_id,
        "item_code": item.implementation_code,  # the item id is local to each node
        "item_version": case.item_version,
        "kind": case.kind,
        "channel": case.channel,
        "centre": centre,
        "applicant": {
            "kind": intake.applicant_kind,
            "name": intake.applicant_name,
            "id_type": intake.applicant_id_type,
            "id": intake.applicant_id,
            "phone": intake.applicant_phone,
            "address": intake.applicant_address,
        },
        "materials": [
            {"name": m.name, "original": m.original, "copy": m.copy} for m in intake.materials
        ],
    }
    session.add(case)
    await session.flush()
    append_event(
        session,
        cipher,
        case,
        kind="submit",
        actor=actor_ref(settings, actor),
        node=settings.region_code,
        body=body,
        at=now,
    )
    await do_notify_for_event(
        session,
        settings=settings,
        case=case,
        event_kind="submit",
        body=body,
        origin=settings.region_code,
        actor=actor_ref(settings, actor),
    )
    await session.commit()
    return case, warnings


STAFF_ROLES = frozenset({Role.CLERK, Role.WINDOW_LEAD, Role.ADMIN})
# What a village agent may issue: they bring the villager's materials, so they scan them too.
AGENT_COMMANDS: frozenset[Command] = frozenset({"attach"})


def may_issue(user: User, case: CaseRecord, command: Command) -> bool:
    """The role rule, before the state machine: window staff issue every command; a village
    agent only `attach`, on a case they filed, while it is open (the signed papers after the
    decision are the window's)."""
    if user.role in STAFF_ROLES:
        return True
    return (
        user.role == Role.VILLAGE_AGENT
        and command in AGENT_COMMANDS
        and case.proxy_user_id == user.id
        and case.state not in CLOSED
    )


async def do_apply(
    *,
    session: AsyncSession,
    cipher: FieldCipher,
    settings: Settings,
    actor: User,
    case: CaseRecord,
    command: Command,
    body: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> CaseEvent:
    """Apply a command to a case the actor may see (`access_case_by_id`): check the role, the
    data and the state machine, then append the event and update the projection together.
    """
    body = dict(body or {})
    if not may_issue(actor, case, command):
        raise Forbidden("只有窗口工作人员可以办理办件")
    now = at or utcnow()
    if errors := command_problems(command, body, now.astimezone(LOCAL_TZ).date()):
        raise ValidationFailed(errors)
    node: Node = "county" if settings.role == "county" else "township"
    view = await item_view(session, case.item_id, case.item_version)
    if command == "accept_with_gaps":
        allowed = {m.name for m in view.materials if m.gap_allowed}
        if refused := [name for name in body["gaps"] if name not in allowed]:
            listed = "、".join(sorted(allowed)) or "无"
            raise ValidationFailed(
                {"gaps": f"{'、'.join(refused)}不允许容缺受理。本事项可容缺的材料：{listed}"}
            )
    if command == "attach":
        await _check_attach(session, view, body)
    await fold_event(session, case, view, command, body, now, actor=node)  # may refuse
    event = append_event(
        session,
        cipher,
        case,
        kind=command,
        actor=actor_ref(settings, actor),
        node=settings.region_code,
        body=body,
        at=now,
    )
    await do_notify_for_event(
        session,
        settings=settings,
        case=case,
        event_kind=command,
        body=body,
        origin=settings.region_code,
        actor=event.actor,
    )
    await session.commit()
    return event


async def _check_attach(session: AsyncSession, view: ItemView, body: dict[str, Any]) -> None:
    """A scan is linked under one of the version's materials (or 其他), and only once the file
    it names is stored here whole, as described: its event never points at nothing."""
    names = [m.name for m in view.materials]
    if body["material"] not in [*names, OTHER_MATERIAL]:
        listed = "、".join([*names, OTHER_MATERIAL])
        raise ValidationFailed(
            {
                "material": f"“{body['material']}”不是本事项（第 {view.version.version} 版）"
                f"的申请材料，请从中选择：{listed}"
            }
        )
    stored = await session.get(Attachment, body["sha256"])
    if (
        stored is None
        or (stored.size, stored.media_type) != (body["size"], body["media_type"])
        or not await is_complete(session, stored.sha256)
    ):
        raise ValidationFailed({"file": "扫描件尚未完整保存，请重新上传"})


async def fold_event(
    session: AsyncSession,
    case: CaseRecord,
    view: ItemView,
    command: Command,
    body: dict[str, Any],
    now: dt.datetime,
    *,
    actor: Node,
) -> None:
    """One event into the projection: the state machine with the case's facts (raises
    `TransitionRefused`), then the fold. The local actions and the sync's ingest
    (server/relay/ingest.py) both come through here, so a case reads the same on every node.
    """
    facts = CaseFacts(
        owner="county" if case.owner == "county" else "township",
        actor=actor,
        open_gaps=case.open_gaps,
        open_tasks=case.open_tasks,
        paused_from=cast(State | None, case.paused_from),
    )
    state = cast(State, case.state)
    new_state = next_state(cast(Kind, case.kind), state, command, case=facts)
    await _fold(session, case, view, command, body, state, now)
    case.state = new_state
    case.owner = next_owner(facts.owner, command)
    case.updated_at = now


async def _fold(
    session: AsyncSession,
    case: CaseRecord,
    view: ItemView,
    command: Command,
    body: dict[str, Any],
    state: str,
    now: dt.datetime,
) -> None:
    """The projection's facts that follow from the command (the events stay the truth)."""
    clock = clock_of(command)
    if clock == "start" and case.accepted_at is None:
        case.accepted_at = now
        calendar = await load_calendar(session)
        unit = cast(Unit, view.version.promised_unit)
        case.due_at = calendar.due(now, view.version.promised_limit, unit).moment
    if command == "extend" and case.due_at is not None:
        calendar = await load_calendar(session)
        case.due_at = calendar.due(case.due_at, int(body["days"]), "working_days").moment
    if command == "accept_with_gaps":
        case.open_gaps = len(body["gaps"])
    if command == "close_gap":
        case.open_gaps = max(0, case.open_gaps - 1)
    if command in ("accept", "accept_with_gaps") and case.kind == "joint":
        case.open_tasks = len([d for d in view.version.co_departments.splitlines() if d.strip()])
    if command == "task_done":
        case.open_tasks = max(0, case.open_tasks - 1)
    if clock == "stop":
        case.paused_from = state
        if case.accepted_at is not None:  # a pause at intake does not touch the deadline
            case.paused_at = now
    if clock in ("resume", "end") and case.paused_at is not None:
        calendar = await load_calendar(session)
        days = paused_working_days(calendar, case.paused_at, now)
        case.paused_days += days
        if clock == "resume" and case.due_at is not None:
            case.due_at = moved_due(calendar, case.due_at, days)
        case.paused_at = None
    if clock == "resume":
        case.paused_from = None
    if command in ("decide", "county_decide", "refuse", "withdraw"):
        case.completed_at = now
    if command == "deliver":
        case.delivered_at = now


# Commands nobody issues by hand here: `submit` is intake itself, `rate` is the applicant's.
NOT_ISSUED: frozenset[Command] = frozenset({"submit", "rate"})
COUNTY_ONLY: frozenset[Command] = frozenset({"county_decide"})
# Commands with a route of their own, not .../commands/{command}: `attach` carries a file.
OWN_ROUTE: frozenset[Command] = frozenset({"attach"})


def issuable_here(command: str, settings: Settings) -> TypeGuard[Command]:
    """A command a person may issue through .../commands/{command} on this node at all (pages
    and API answer 404 otherwise)."""
    return (
        command in COMMANDS
        and command not in NOT_ISSUED
        and command not in OWN_ROUTE
        and (settings.role == "county" or command not in COUNTY_ONLY)
    )


def commands_for(settings: Settings, user: User, case: CaseRecord) -> list[Command]:
    """What this user may issue now, on the node that owns the case: window staff what the
    machine opens; a village agent `attach` on a case they filed, while it is open."""
    if (case.owner == "county") != (settings.role == "county"):
        return []  # only the node that owns the case moves it
    return [
        c
        for c in allowed(cast(Kind, case.kind), cast(State, case.state))
        if (issuable_here(c, settings) or c in OWN_ROUTE) and may_issue(user, case, c)
    ]
