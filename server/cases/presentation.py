"""How a case reads to people: masked numbers, the readable lines of each event, the names of
the people who acted, and what is still open (容缺 gaps, joint tasks, materials asked for).

Shared by the case page, the papers and the JSON API so that the three never disagree.
An event's actor is `<region code>/<user id>`; only this node's users have names here, an
actor from another node is shown as it is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.attachments.media import size_kb
from server.auth.models import User
from server.cases.commands import DELIVERY_METHODS, OUTCOMES
from server.cases.models import CHANNELS, CaseEvent
from server.catalog.queries import ItemView


def mask(value: str, keep_start: int, keep_end: int = 4) -> str:
    """Show the ends of a number, stars between: 110105********002X, 139****5678."""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def event_details(kind: str, body: dict[str, Any]) -> list[str]:
    """The readable parts of an event's body, never the applicant's numbers."""
    lines: list[str] = []
    if kind == "attach":
        size = body.get("size")
        kb = f"（{size_kb(size)} KB）" if isinstance(size, int) else ""
        return [f"{body.get('material', '')}：{body.get('name', '')}{kb}"]
    if kind == "submit":
        channel = CHANNELS.get(str(body.get("channel", "")), "")
        lines.append(f"渠道：{channel}")
        got = [
            m["name"]
            + "（"
            + "、".join(
                t for t, on in (("原件", m.get("original")), ("复印件", m.get("copy"))) if on
            )
            + "）"
            for m in body.get("materials", [])
            if isinstance(m, dict)
        ]
        if got:
            lines.append("收到材料：" + "；".join(got))
    for key, label in (
        ("missing", "缺少或需补正的材料"),
        ("gaps", "容缺材料"),
        ("received", "补正材料"),
    ):
        if body.get(key):
            # ；between names: a material's own name may hold 、
            lines.append(f"{label}：" + "；".join(str(n) for n in body[key]))
    if body.get("commit_by"):
        lines.append(f"承诺补齐日期：{body['commit_by']}")
    if body.get("outcome"):
        lines.append(f"办理结果：{OUTCOMES.get(str(body['outcome']), body['outcome'])}")
    for key, label in (("reasons", "理由"), ("reason", "理由")):
        if body.get(key):
            lines.append(f"{label}：{body[key]}")
    if body.get("days"):
        lines.append(f"延长 {body['days']} 个工作日")
    if body.get("method"):
        lines.append(f"送达方式：{DELIVERY_METHODS.get(str(body['method']), body['method'])}")
    if body.get("ems_number"):
        lines.append(f"EMS 邮件号：{body['ems_number']}")
    if body.get("material"):
        lines.append(f"补齐：{body['material']}")
    if body.get("task"):
        lines.append(f"完成：{body['task']}")
    return lines


async def names_of(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    """Display names of this node's users by id."""
    wanted = set(ids)
    if not wanted:
        return {}
    users = await session.exec(select(User).where(col(User.id).in_(wanted)))
    return {u.id or 0: u.display_name for u in users.all()}


def local_actor_ids(region_code: str, events: Iterable[CaseEvent]) -> set[int]:
    """The user ids of the events' actors who belong to this node."""
    ids: set[int] = set()
    for event in events:
        region, _, uid = event.actor.partition("/")
        if region == region_code and uid.isdigit():
            ids.add(int(uid))
    return ids


def actor_namer(region_code: str, names: dict[int, str]) -> Callable[[str], str]:
    """A function from an event's actor to the name shown for it."""

    def actor_name(actor: str) -> str:
        region, _, uid = actor.partition("/")
        if region == region_code and uid.isdigit() and int(uid) in names:
            return names[int(uid)]
        return actor

    return actor_name


def open_items(
    events: list[tuple[CaseEvent, dict[str, Any]]], view: ItemView
) -> tuple[list[str], list[str], list[str]]:
    """Open 容缺 gaps, open joint tasks and the materials last asked for (while waiting)."""
    gaps: list[str] = []
    tasks: list[str] = []
    missing: list[str] = []
    for event, body in events:
        if event.kind == "accept_with_gaps":
            gaps = [str(n) for n in body.get("gaps", [])]
        if event.kind == "close_gap" and gaps:
            name = str(body.get("material", ""))
            gaps.remove(name if name in gaps else gaps[0])
        if event.kind in ("accept", "accept_with_gaps") and view.version.handling_kind == "joint":
            tasks = [d.strip() for d in view.version.co_departments.splitlines() if d.strip()]
        if event.kind == "task_done" and tasks:
            name = str(body.get("task", ""))
            tasks.remove(name if name in tasks else tasks[0])
        if event.kind == "notify_missing":
            missing = [str(n) for n in body.get("missing", [])]
        if event.kind == "supplement":
            missing = []
    return gaps, tasks, missing
