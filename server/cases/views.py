"""The clerk's intake (choose the item, fill in the applicant, tick the materials) and the case
page: the applicant (masked unless revealed, which is audited), the timeline of events and one
small form per command the state machine opens.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.attachments.access import linked_scans
from server.attachments.listing import ScanSection, scan_section
from server.audit.actions import do_record_audit
from server.auth.access import NotFound, current_user, require_role
from server.auth.models import Role
from server.calendar.queries import load_calendar
from server.calendar.rules import LOCAL_TZ, UNIT_NAMES
from server.cases.access import access_case_by_id
from server.cases.actions import (
    INTAKE_ROLES,
    OWN_ROUTE,
    STAFF_ROLES,
    Intake,
    ReceivedMaterial,
    applicant_in_clear,
    centre_of,
    commands_for,
    do_apply,
    do_open_case,
    issuable_here,
)
from server.cases.commands import DELIVERY_METHODS, OUTCOMES
from server.cases.deadlines import days_left, relay_deadline
from server.cases.events import events_of, open_body
from server.cases.identity import ID_TYPES
from server.cases.machine import (
    COMMAND_NAMES,
    KIND_NAMES,
    NODE_NAMES,
    STATE_NAMES,
    Command,
    Kind,
    State,
    TransitionRefused,
)
from server.cases.models import APPLICANT_KINDS, CHANNELS, CaseRecord
from server.cases.papers import PaperLink, paper_links
from server.cases.presentation import (
    actor_namer,
    event_details,
    local_actor_ids,
    mask,
    names_of,
    open_items,
)
from server.catalog.models import CatalogItem, CatalogItemVersion
from server.catalog.queries import ItemFilters, ItemView, claimed_item_ids, item_view, search_items
from server.context import client_ip, flash, get_cipher, get_db, get_settings
from server.forms import ValidationFailed, form_values, whole_number
from server.policy.queries import load_policy
from server.relay.holds import arriving
from server.templating import render

INTAKE_FIELDS = (
    "item_id",
    "applicant_kind",
    "applicant_name",
    "applicant_id_type",
    "applicant_id",
    "applicant_phone",
    "applicant_address",
    "channel",
)
ITEMS_SHOWN = 30
# Commands a window never issues from the case page: the applicant submits and rates.
# The form fields each command's small form carries (lists are read with getlist).
TEXT_FIELDS: dict[Command, tuple[str, ...]] = {
    "refuse": ("reasons",),
    "notify_missing": ("other",),
    "accept_with_gaps": ("commit_by",),
    "decide": ("outcome", "reasons"),
    "county_decide": ("outcome", "reasons"),
    "extend": ("days", "reason"),
    "suspend": ("reason",),
    "deliver": ("method", "ems_number"),
    "close_gap": ("material",),
    "task_done": ("task",),
}
LIST_FIELDS: dict[Command, str] = {
    "notify_missing": "missing",
    "accept_with_gaps": "gaps",
    "supplement": "received",
}
CHOICES: dict[str, dict[str, str]] = {
    "applicant_kinds": APPLICANT_KINDS,
    "id_types": ID_TYPES,
    "channels": CHANNELS,
    "units": UNIT_NAMES,
    "kinds": {str(k): v for k, v in KIND_NAMES.items()},
    "outcomes": OUTCOMES,
    "methods": DELIVERY_METHODS,
}


# --- contexts ----------------------------------------------------------------------------------


@dataclass
class ItemChoice:
    item: CatalogItem
    version: CatalogItemVersion
    used: int  # cases this centre opened for the item


@dataclass
class CaseNewPage:
    query: str
    items: list[ItemChoice]
    view: ItemView | None
    values: dict[str, str]
    originals: set[str]
    copies: set[str]
    errors: dict[str, str]
    choices: dict[str, dict[str, str]]
    channel_fixed: bool


@dataclass
class Applicant:
    kind: str
    name: str
    id_type: str
    id_number: str
    phone: str
    address: str


@dataclass
class TimelineEntry:
    seq: int
    at: dt.datetime
    name: str
    actor: str
    details: list[str]


@dataclass
class CommandForm:
    """One command's small form on the case page, with what was typed if it failed."""

    command: str
    name: str
    fields: tuple[str, ...]
    values: dict[str, str] = field(default_factory=dict)
    ticked: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class CaseShowPage:
    case: CaseRecord
    view: ItemView
    kind_name: str
    state_name: str
    owner_name: str
    channel_name: str
    applicant: Applicant
    full: bool
    can_reveal: bool
    first_responsible: str
    proxy: str
    days_left: int | None
    relay_due: dt.datetime | None
    relay_days_left: int | None
    papers: list[PaperLink]
    received: list[dict[str, Any]]
    gaps: list[str]
    tasks: list[str]
    missing: list[str]
    timeline: list[TimelineEntry]
    actions: list[CommandForm]
    scans: ScanSection
    choices: dict[str, dict[str, str]]
    refused: str = ""
    arriving: int = 0  # events received but held until their scans are here (relay/holds.py)


# --- intake ------------------------------------------------------------------------------------


async def _item_choices(session: AsyncSession, centre: str, text: str) -> list[ItemChoice]:
    """The centre's claimed items matching the text, most used first, then by name."""
    claimed = await claimed_item_ids(session, centre)
    found = await search_items(session, ItemFilters(text=text), size=10_000, only_ids=claimed)
    counts = dict(
        (
            await session.exec(
                select(CaseRecord.item_id, func.count())
                .where(CaseRecord.org_unit_code == centre)
                .group_by(col(CaseRecord.item_id))
            )
        ).all()
    )
    choices = [
        ItemChoice(item, version, counts.get(item.id or 0, 0)) for item, version in found.items
    ]
    choices.sort(key=lambda c: (-c.used, c.version.name))
    return choices[:ITEMS_SHOWN]


async def _intake_page(
    request: Request,
    *,
    item_id: int | None,
    values: dict[str, str] | None = None,
    originals: set[str] | None = None,
    copies: set[str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    user = current_user(request)
    centre = centre_of(user)
    query = request.query_params.get("q", "").strip()[:100]
    errors = dict(errors or {})
    view: ItemView | None = None
    async with get_db(request).session() as session:
        if item_id is not None:
            if item_id in await claimed_item_ids(session, centre):
                view = await item_view(session, item_id)
                if view.item.status != "active":
                    view = None
            if view is None:
                errors.setdefault("item_id", "本中心没有认领这个事项，请从下面的列表中选择")
        items = [] if view is not None else await _item_choices(session, centre, query)
    fixed = user.role == Role.VILLAGE_AGENT
    defaults = {
        "applicant_kind": "natural",
        "applicant_id_type": "resident_id",
        "channel": "village_agent" if fixed else "window",
    }
    page = CaseNewPage(
        query=query,
        items=items,
        view=view,
        values=defaults | (values or {}) | ({"channel": "village_agent"} if fixed else {}),
        originals=originals or set(),
        copies=copies or set(),
        errors=errors,
        choices=CHOICES,
        channel_fixed=fixed,
    )
    return render(request, "cases/new.html", page, block="items", status_code=status_code)


async def case_new(request: Request) -> Response:
    require_role(current_user(request), INTAKE_ROLES)
    raw = request.query_params.get("item", "")
    return await _intake_page(request, item_id=whole_number(raw))


def _ticked(form: FormData, name: str) -> set[str]:
    return {v for v in form.getlist(name) if isinstance(v, str)}


async def case_create(request: Request) -> Response:
    user = current_user(request)
    require_role(user, INTAKE_ROLES)
    form = await request.form()
    values = form_values(form, *INTAKE_FIELDS)
    if user.role == Role.VILLAGE_AGENT:
        values["channel"] = "village_agent"
    originals, copies = _ticked(form, "original"), _ticked(form, "copy")
    item_id = whole_number(values["item_id"])
    intake = Intake(
        item_id=item_id or 0,
        channel=values["channel"],
        applicant_name=values["applicant_name"],
        applicant_id_type=values["applicant_id_type"],
        applicant_id=values["applicant_id"],
        applicant_kind=values["applicant_kind"],
        applicant_phone=values["applicant_phone"],
        applicant_address=values["applicant_address"],
        materials=[
            ReceivedMaterial(name=name, original=name in originals, copy=name in copies)
            for name in dict.fromkeys(
                str(v) for k, v in form.multi_items() if k in ("original", "copy")
            )
        ],
    )
    async with get_db(request).session() as session:
        try:
            case, warnings = await do_open_case(
                session=session,
                cipher=get_cipher(request),
                settings=get_settings(request),
                actor=user,
                intake=intake,
            )
        except ValidationFailed as failed:
            return await _intake_page(
                request,
                item_id=item_id,
                values=values,
                originals=originals,
                copies=copies,
                errors=failed.errors,
                status_code=422,
            )
    flash(request, "　".join([f"已登记办件，流水号 {case.serial}。", *warnings]))
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


# --- the case page -----------------------------------------------------------------------------


def _applicant(request: Request, case: CaseRecord, full: bool) -> Applicant:
    clear = applicant_in_clear(get_cipher(request), case)
    number, phone, address = clear.id_number, clear.phone, clear.address
    return Applicant(
        kind=APPLICANT_KINDS.get(case.applicant_kind, case.applicant_kind),
        name=case.applicant_name,
        id_type=ID_TYPES.get(case.applicant_id_type, case.applicant_id_type),
        id_number=number if full else mask(number, 6),
        phone=phone if full or not phone else mask(phone, 3),
        address=address,
    )


async def case_page(
    request: Request,
    case_id: str,
    *,
    full: bool = False,
    failed: CommandForm | None = None,
    refused: str = "",
    status_code: int = 200,
) -> Response:
    """The case page; after a post that did not go through (a command, a scan's upload), with
    its form and errors (`failed`) or the refusal, under the status given."""
    user = current_user(request)
    settings = get_settings(request)
    can_reveal = user.role in STAFF_ROLES
    async with get_db(request).session() as session:
        case = await access_case_by_id(session, user, case_id)
        view = await item_view(session, case.item_id, case.item_version)
        events = [(e, open_body(get_cipher(request), e)) for e in await events_of(session, case.id)]
        people = {case.first_responsible_id, case.proxy_user_id} - {None}
        local = local_actor_ids(settings.region_code, (e for e, _ in events))
        names = await names_of(session, local | {p for p in people if p is not None})
        held = await arriving(session, case.id)
        if full and can_reveal:
            do_record_audit(
                session=session,
                actor_id=user.id,
                action="case.reveal",
                target=case.id,
                ip=client_ip(request),
                serial=case.serial,
            )
            await session.commit()
    full = full and can_reveal

    actor_name = actor_namer(settings.region_code, names)

    timeline = [
        TimelineEntry(
            e.seq,
            e.at,
            COMMAND_NAMES.get(cast(Command, e.kind), e.kind),
            actor_name(e.actor),
            event_details(e.kind, body),
        )
        for e, body in events
    ]
    received = events[0][1].get("materials", []) if events else []
    gaps, tasks, missing = open_items(events, view)
    forms = []
    commands = commands_for(get_settings(request), user, case)
    if failed is not None and failed.command not in commands:
        refused = refused or "；".join(failed.errors.values())
    scans = scan_section(
        case.id,
        linked_scans(events),
        [m.name for m in view.materials],
        actor_name,
        can_upload="attach" in commands,
    )
    if failed is not None and failed.command == "attach":
        scans.material, scans.errors = failed.values.get("material", ""), failed.errors
    # A guard would refuse these with nothing open: no form for them then; scans have their own.
    commands = [
        c
        for c in commands
        if not (c == "close_gap" and not case.open_gaps)
        and not (c == "task_done" and not case.open_tasks)
        and c not in OWN_ROUTE
    ]
    for command in commands:
        if failed is not None and failed.command == command:
            forms.append(failed)
        else:
            forms.append(CommandForm(command, COMMAND_NAMES[command], TEXT_FIELDS.get(command, ())))
    left = relay_left = None
    relay_at = None
    if case.due_at is not None and case.completed_at is None:
        async with get_db(request).session() as session:
            calendar = await load_calendar(session)
            policy = await load_policy(session)
        now = dt.datetime.now(LOCAL_TZ)
        left = days_left(calendar, now, case.due_at)
        relay_at = relay_deadline(
            case,
            kind=case.kind,
            owner=case.owner,
            calendar=calendar,
            relay_percent=policy.relay_percent,
        )
        relay_left = days_left(calendar, now, relay_at) if relay_at is not None else None
    page = CaseShowPage(
        case=case,
        view=view,
        kind_name=KIND_NAMES.get(cast(Kind, case.kind), case.kind),
        state_name=STATE_NAMES.get(cast(State, case.state), case.state),
        owner_name=NODE_NAMES.get("county" if case.owner == "county" else "township", ""),
        channel_name=CHANNELS.get(case.channel, case.channel),
        applicant=_applicant(request, case, full),
        full=full,
        can_reveal=can_reveal,
        first_responsible=names.get(case.first_responsible_id or 0, ""),
        proxy=names.get(case.proxy_user_id or 0, ""),
        days_left=left,
        relay_due=relay_at,
        relay_days_left=relay_left,
        papers=paper_links(case, events),
        received=[m for m in received if isinstance(m, dict)],
        gaps=gaps,
        tasks=tasks,
        missing=missing,
        timeline=timeline,
        actions=forms,
        scans=scans,
        choices=CHOICES,
        refused=refused,
        arriving=held,
    )
    return render(request, "cases/show.html", page, status_code=status_code)


async def case_show(request: Request) -> Response:
    full = request.query_params.get("full") == "1"
    return await case_page(request, request.path_params["case_id"], full=full)


# One material a line (or ；): names may hold 、 themselves,
# as in 社会保障卡或银行账户（存折、银行卡）.
SPLIT = re.compile(r"[\r\n；;]+")


def _command_body(command: Command, form: FormData) -> tuple[dict[str, Any], CommandForm]:
    """The event body from the form, and the form's values to show again if it fails."""
    fields = TEXT_FIELDS.get(command, ())
    values = form_values(form, *fields)
    body: dict[str, Any] = {name: value for name, value in values.items() if value}
    ticked: set[str] = set()
    if list_name := LIST_FIELDS.get(command):
        ticked = {v.strip() for v in form.getlist(list_name) if isinstance(v, str) and v.strip()}
        names = sorted(ticked)
        if command == "notify_missing":
            body.pop("other", None)
            names += [n.strip() for n in SPLIT.split(values["other"]) if n.strip()]
        body[list_name] = names
    if command == "extend" and values["days"]:
        days = whole_number(values["days"])
        body["days"] = values["days"] if days is None else days
    shown = CommandForm(command, COMMAND_NAMES[command], fields, values, ticked)
    return body, shown


def _done_message(command: Command, case: CaseRecord) -> str:
    if command in ("accept", "accept_with_gaps") and case.due_at is not None:
        due = case.due_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d")
        return f"已{COMMAND_NAMES[command]}，承诺 {due} 前办结。"
    if command == "extend" and case.due_at is not None:
        due = case.due_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d")
        return f"已延期，新的办结期限为 {due}。"
    return f"已{COMMAND_NAMES[command]}。当前状态：{STATE_NAMES.get(cast(State, case.state), '')}"


async def case_command(request: Request) -> Response:
    user = current_user(request)
    case_id = request.path_params["case_id"]
    name = request.path_params["command"]
    if not issuable_here(name, get_settings(request)):
        raise NotFound("没有这个办理操作")
    command = name
    form = await request.form()
    body, shown = _command_body(command, form)
    async with get_db(request).session() as session:
        case = await access_case_by_id(session, user, case_id)
        try:
            await do_apply(
                session=session,
                cipher=get_cipher(request),
                settings=get_settings(request),
                actor=user,
                case=case,
                command=command,
                body=body,
            )
        except TransitionRefused as refused:
            await session.rollback()
            return await case_page(request, case_id, refused=refused.message, status_code=409)
        except ValidationFailed as failed:
            await session.rollback()
            shown.errors = failed.errors
            return await case_page(request, case_id, failed=shown, status_code=422)
        message = _done_message(command, case)
    flash(request, message)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)
