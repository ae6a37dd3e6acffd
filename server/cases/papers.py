"""The papers a window prints for a case (受理通知书, 一次性告知书, 不予受理通知书, 容缺受理承诺书,
即办件收件单, 送达回证): A4 print pages, each from the event that gave rise to it.

A paper exists only once its event does: the acceptance notice after `accept` or
`accept_with_gaps`, the one-time notice after `notify_missing`, and so on; before that the
address answers 404, so a clerk never prints a notice for something that did not happen.
`?seq=` picks an earlier event of the same kind (a second one-time notice); by default the
latest one is printed. Every paper carries the centre's name, the serial in large type, the
date and a QR code of the public progress page (办件查询) for this serial. The applicant's ID
number is printed masked (110105********002X): the paper may lie on a counter or travel by post.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response

from server.auth.access import NotFound, current_user
from server.calendar.rules import LOCAL_TZ, UNIT_NAMES
from server.cases.access import access_case_by_id
from server.cases.actions import ID_CONTEXT
from server.cases.commands import DELIVERY_METHODS
from server.cases.events import events_of, open_body
from server.cases.identity import ID_TYPES
from server.cases.machine import KIND_NAMES, Kind
from server.cases.models import CaseEvent, CaseRecord
from server.catalog.guide import guide_qr
from server.catalog.queries import item_view
from server.context import get_cipher, get_db, get_settings, public_link
from server.templating import render

RIGHTS = (
    "如不服本决定，可自收到本通知书之日起六十日内依法申请行政复议，或者六个月内依法提起行政诉讼。"
)
DECISION_RIGHTS = RIGHTS.replace("本通知书", "本决定书")


@dataclass(frozen=True)
class PaperKind:
    title: str
    commands: tuple[str, ...]  # the event kinds the paper is printed from
    missing: str  # why there is no such paper yet, for the 404


PAPERS: dict[str, PaperKind] = {
    "acceptance": PaperKind(
        "受理通知书", ("accept", "accept_with_gaps"), "该办件尚未受理，没有受理通知书"
    ),
    "one_time_notice": PaperKind(
        "一次性告知书", ("notify_missing",), "该办件没有一次性告知（补正）记录，没有一次性告知书"
    ),
    "refusal": PaperKind("不予受理通知书", ("refuse",), "该办件没有不予受理，没有不予受理通知书"),
    "gap_commitment": PaperKind(
        "容缺受理承诺书", ("accept_with_gaps",), "该办件不是容缺受理，没有容缺受理承诺书"
    ),
    "immediate_receipt": PaperKind(
        "即办件收件单", ("accept",), "只有已受理的即办件才有即办件收件单"
    ),
    "decision": PaperKind(
        "办理决定书", ("decide", "county_decide"), "该办件尚未作出办理决定，没有办理决定书"
    ),
    "delivery_receipt": PaperKind("送达回证", ("deliver",), "该办件尚未送达，没有送达回证"),
}
DECISION_TITLES = {"approve": "准予办理决定书", "deny": "不予办理决定书"}


@dataclass(frozen=True)
class PaperLink:
    """A paper the case page offers, one per event that gave rise to it."""

    href: str
    title: str
    at: dt.datetime


def paper_title(paper: str, body: dict[str, Any]) -> str:
    """The paper's title; a decision's depends on its outcome."""
    if paper == "decision":
        return DECISION_TITLES.get(str(body.get("outcome", "")), PAPERS[paper].title)
    return PAPERS[paper].title


def paper_links(
    case: CaseRecord, events: list[tuple[CaseEvent, dict[str, Any]]]
) -> list[PaperLink]:
    """Every paper the case's events gave rise to, oldest first; `?seq=` picks each one."""
    links = []
    for event, body in events:
        for key, kind in PAPERS.items():
            if event.kind not in kind.commands:
                continue
            if key == "immediate_receipt" and case.kind != "immediate":
                continue
            links.append(
                PaperLink(
                    f"/cases/{case.id}/papers/{key}?seq={event.seq}",
                    paper_title(key, body),
                    event.at,
                )
            )
    return links


@dataclass(frozen=True)
class Material:
    name: str
    form: str  # 原件、复印件 as ticked at intake; empty when not recorded


@dataclass
class PaperPage:
    paper: str  # a key of PAPERS
    title: str
    case: CaseRecord
    item_name: str
    kind_name: str
    applicant_name: str
    id_type_name: str
    id_masked: str
    date: str  # the event's day, 2026年11月16日
    received: str  # the day the application was received
    progress_url: str  # the QR code's absolute address
    qr_src: str
    qr_size: int
    promised: str  # 8 个工作日; empty when the item names none
    due: str  # the due day, empty before acceptance
    place: str  # where to bring materials or fetch the result
    phone: str  # the item's enquiry phone
    result_name: str
    rights: str
    materials: list[Material] = field(default_factory=list)  # received at intake
    listed: list[str] = field(default_factory=list)  # missing, gaps: per the paper
    reasons: str = ""  # refusal
    commit_by: str = ""  # 容缺: the day the applicant promised the materials by
    method: str = ""  # delivery
    ems_number: str = ""
    outcome: str = ""  # decision: approve or deny
    by_county: bool = False  # decision: taken by the county on a relayed case


def mask_id(number: str) -> str:
    """An ID number with its middle hidden: the first six and last four characters stay."""
    if len(number) >= 12:
        return number[:6] + "*" * (len(number) - 10) + number[-4:]
    if len(number) >= 4:
        return number[:1] + "*" * (len(number) - 2) + number[-1:]
    return "*" * len(number)


def chinese_date(moment: dt.datetime | dt.date | None) -> str:
    if moment is None:
        return ""
    day = moment.astimezone(LOCAL_TZ).date() if isinstance(moment, dt.datetime) else moment
    return f"{day.year}年{day.month}月{day.day}日"


def progress_url(request: Request, serial: str) -> str:
    """The public progress page of a serial, absolute, as the QR code holds it."""
    return public_link(request, "/progress", f"serial={serial}")


def _received_materials(submit_body: dict[str, Any]) -> list[Material]:
    found = []
    for entry in submit_body.get("materials") or []:
        if isinstance(entry, str):
            found.append(Material(entry, ""))
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
            forms = [
                label for key, label in (("original", "原件"), ("copy", "复印件")) if entry.get(key)
            ]
            found.append(Material(entry["name"], "、".join(forms)))
    return found


def _names(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    return [str(v) for v in value if str(v).strip()] if isinstance(value, list) else []


def _pick(events: list[CaseEvent], kind: PaperKind, seq: str) -> CaseEvent | None:
    matching = [e for e in events if e.kind in kind.commands]
    if seq:
        return next((e for e in matching if str(e.seq) == seq), None)
    return matching[-1] if matching else None


async def case_paper(request: Request) -> Response:
    user = current_user(request)
    paper = request.path_params["paper"]
    kind = PAPERS.get(paper)
    if kind is None:
        raise NotFound("没有这种文书")
    cipher = get_cipher(request)
    async with get_db(request).session() as session:
        case = await access_case_by_id(session, user, request.path_params["case_id"])
        events = await events_of(session, case.id)
        event = _pick(events, kind, request.query_params.get("seq", ""))
        if event is None or (paper == "immediate_receipt" and case.kind != "immediate"):
            raise NotFound(kind.missing)
        view = await item_view(session, case.item_id, case.item_version)
    body = open_body(cipher, event)
    submit = open_body(cipher, events[0]) if events and events[0].kind == "submit" else {}
    version = view.version
    url = progress_url(request, case.serial)
    qr_src, qr_size = guide_qr(url)
    unit = UNIT_NAMES.get(version.promised_unit, version.promised_unit)
    page = PaperPage(
        paper=paper,
        title=paper_title(paper, body),
        case=case,
        item_name=version.name,
        kind_name=KIND_NAMES.get(cast(Kind, case.kind), case.kind),
        applicant_name=case.applicant_name,
        id_type_name=ID_TYPES.get(case.applicant_id_type, case.applicant_id_type),
        id_masked=mask_id(cipher.decrypt(case.applicant_id_enc, context=ID_CONTEXT)),
        date=chinese_date(event.at),
        received=chinese_date(case.received_at),
        progress_url=url,
        qr_src=qr_src,
        qr_size=qr_size,
        promised=f"{version.promised_limit} 个{unit}" if version.promised_limit else "当场办结",
        due=chinese_date(case.due_at),
        place=version.place_and_time or get_settings(request).name,
        phone=version.enquiry_phone,
        result_name=version.result_name,
        rights=DECISION_RIGHTS if paper == "decision" else RIGHTS,
        materials=_received_materials(submit),
        listed=_names(body, "missing" if paper == "one_time_notice" else "gaps"),
        reasons=str(body.get("reasons", "")),
        commit_by=_commit_by(body),
        method=DELIVERY_METHODS.get(str(body.get("method", "")), ""),
        ems_number=str(body.get("ems_number", "")),
        outcome=str(body.get("outcome", "")),
        by_county=event.kind == "county_decide",
    )
    response = render(request, "cases/paper.html", page)
    response.headers["Cache-Control"] = "no-store"  # personal data: kept by no cache
    return response


def _commit_by(body: dict[str, Any]) -> str:
    try:
        return chinese_date(dt.date.fromisoformat(str(body.get("commit_by", ""))))
    except ValueError:
        return ""
