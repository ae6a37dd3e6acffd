"""The public progress page (办件查询): a serial and the last four digits of the applicant's
mobile show where the case stands. No sign-in: the QR code on every paper opens it.

What it shows is what the applicant may tell a neighbour: the item, the state, the dates and
the steps by name. Never a name, an ID number, a phone, an address or any free text a clerk
wrote (reasons may name people), so a guessed combination gives away nothing personal.
A wrong combination gets one message whatever was wrong (no such serial, no phone on file,
other digits), and the guesses are limited per serial and per address with the sign-in
rate-limit table (`scope="progress"`), so four digits cannot be tried through.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass, field
from typing import cast

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response

from server.auth.ratelimit import locked_minutes, record_failure, throttle_keys
from server.cases.actions import PHONE_CONTEXT
from server.cases.commands import OUTCOMES
from server.cases.events import events_of, open_body
from server.cases.machine import COMMAND_NAMES, KIND_NAMES, STATE_NAMES, Command, Kind, State
from server.cases.models import CaseRecord
from server.cases.serials import compact_serial, parse_serial, serial_problem
from server.catalog.queries import item_view
from server.context import client_ip, get_cipher, get_db
from server.crypto.fields import FieldCipher
from server.templating import render

WRONG = "流水号或手机号后四位不对，请核对后重试"
LAST_FOUR = re.compile(r"^[0-9]{4}$")
# Decisions show only their outcome; every other step its name.
DECISIONS = frozenset({"decide", "county_decide"})
UNLISTED = frozenset({"attach"})  # the file's bookkeeping, not a step of the handling


@dataclass(frozen=True)
class Step:
    name: str
    at: dt.datetime


@dataclass(frozen=True)
class Progress:
    serial: str
    item_name: str
    kind_name: str
    state_name: str
    received_at: dt.datetime
    accepted_at: dt.datetime | None
    due_at: dt.datetime | None
    completed_at: dt.datetime | None
    delivered_at: dt.datetime | None
    steps: list[Step]


@dataclass
class ProgressPage:
    serial: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    error: str = ""  # the one message for a wrong combination or too many tries
    result: Progress | None = None


def _respond(request: Request, page: ProgressPage, status_code: int = 200) -> Response:
    response = render(request, "cases/progress.html", page, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


async def progress_form(request: Request) -> Response:
    """Public. `?serial=` (from a paper's QR code) fills in the serial."""
    serial = request.query_params.get("serial", "").strip()[:40]
    return _respond(request, ProgressPage(serial=serial))


def _step_name(command: str, body: dict[str, object]) -> str:
    if command in DECISIONS:
        outcome = OUTCOMES.get(str(body.get("outcome", "")), "")
        return f"办结（{outcome}）" if outcome else "办结"
    return COMMAND_NAMES.get(cast(Command, command), command)


async def _progress(request: Request, cipher: FieldCipher, case: CaseRecord) -> Progress:
    async with get_db(request).session() as session:
        events = await events_of(session, case.id)
        view = await item_view(session, case.item_id, case.item_version)
    steps = [
        Step(
            _step_name(e.kind, open_body(cipher, e) if e.kind in DECISIONS else {}),
            e.at,
        )
        for e in events
        if e.kind not in UNLISTED
    ]
    return Progress(
        serial=case.serial,
        item_name=view.version.name,
        kind_name=KIND_NAMES.get(cast(Kind, case.kind), case.kind),
        state_name=STATE_NAMES.get(cast(State, case.state), case.state),
        received_at=case.received_at,
        accepted_at=case.accepted_at,
        due_at=case.due_at,
        completed_at=case.completed_at,
        delivered_at=case.delivered_at,
        steps=steps,
    )


def _digits_match(cipher: FieldCipher, case: CaseRecord | None, digits: str) -> bool:
    """The last four digits of the phone on file, compared in constant time."""
    stored = ""
    if case is not None and case.applicant_phone_enc:
        stored = cipher.decrypt(case.applicant_phone_enc, context=PHONE_CONTEXT)[-4:]
    # Compare even when there is nothing on file, so the answer takes the same time.
    same = hmac.compare_digest((stored or "----").encode(), digits.encode())
    return same and len(stored) == 4


async def progress_lookup(request: Request) -> Response:
    """Public. One message for every wrong combination; ten tries per serial and address."""
    form = await request.form()
    serial_text = str(form.get("serial", "")).strip()[:40]
    digits = str(form.get("phone_last4", "")).strip()
    page = ProgressPage(serial=serial_text)
    if problem := serial_problem(serial_text):
        page.errors["serial"] = problem
    if not LAST_FOUR.match(digits):
        page.errors["phone_last4"] = "请填写申请时所留手机号的后四位数字"
    if page.errors:
        return _respond(request, page, 422)
    parsed = parse_serial(serial_text)
    serial = str(parsed) if parsed else serial_text  # the printed form, with its hyphens
    page.serial = serial
    cipher = get_cipher(request)
    keys = throttle_keys(cipher, compact_serial(serial), client_ip(request), scope="progress")
    async with get_db(request).session() as session:
        if minutes := await locked_minutes(session, keys):
            page.error = f"查询过于频繁，请 {minutes} 分钟后再试"
            return _respond(request, page, 429)
        query = select(CaseRecord).where(CaseRecord.serial == serial)
        case = (await session.exec(query)).first()
        if case is None or not _digits_match(cipher, case, digits):
            await record_failure(session, keys)
            page.error = WRONG
            return _respond(request, page, 422)
    page.result = await _progress(request, cipher, case)
    return _respond(request, page)
