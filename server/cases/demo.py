"""Demo cases for a township: a few dozen across the four kinds, many states and the three
warning levels (on time, yellow, red), taken on earlier days so that deadlines have run.

Applicants are invented. ID numbers carry a correct GB 11643 check digit but the sequence
block 99x, and mobiles the block 1380000xxxx, so that they are easy to tell from real ones;
nothing is ever sent to them (the SMS gateway only logs by default).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.models import User
from server.calendar.rules import LOCAL_TZ
from server.cases.actions import Intake, do_apply, do_open_case
from server.cases.identity import resident_id_check_char
from server.cases.machine import Command
from server.cases.models import CaseRecord
from server.catalog.queries import all_current
from server.crypto.fields import FieldCipher
from server.settings import Settings

NAMES = (
    "张桂英",
    "王建国",
    "李秀珍",
    "刘德明",
    "陈玉兰",
    "杨志强",
    "赵淑芬",
    "黄永福",
    "周秀云",
    "吴国华",
    "徐春梅",
    "孙立新",
    "胡玉珍",
    "朱海涛",
    "高凤英",
    "林文斌",
)

# (kind, steps after submit, working days ago it was received)
PLANS: dict[str, list[tuple[list[Command], int]]] = {
    "immediate": [(["accept", "decide", "deliver"], 1), (["accept"], 0), ([], 0)],
    "promised": [
        ([], 0),
        (["notify_missing"], 2),
        (["accept"], 1),
        (["accept", "start_review"], 3),
        (["accept", "start_review"], 7),
        (["accept", "start_review"], 12),
        (["accept", "start_review", "decide"], 5),
        (["accept", "start_review", "decide", "deliver"], 9),
        (["refuse"], 4),
    ],
    "joint": [(["accept"], 2), (["accept", "task_done"], 6)],
    "relayed": [
        (["accept"], 1),
        (["accept", "start_review"], 4),
        (["accept", "start_review", "mark_ready"], 6),
        (["accept", "start_review", "mark_ready", "relay"], 10),
    ],
}
BODIES: dict[str, dict[str, object]] = {
    "notify_missing": {"missing": ["户口簿", "近期免冠照片"]},
    "refuse": {"reasons": "申请人户籍不在本镇，不属于本中心受理范围。请到户籍所在地乡镇申请。"},
    "decide": {"outcome": "approve"},
    "deliver": {"method": "window"},
    "task_done": {"department": "自然资源所"},
}


@dataclass(frozen=True)
class DemoPerson:
    name: str
    id_number: str
    phone: str


def demo_person(index: int) -> DemoPerson:
    birth = dt.date(1950 + (index * 7) % 40, 1 + index % 12, 1 + (index * 5) % 28)
    first17 = f"110105{birth:%Y%m%d}99{index % 10}"
    return DemoPerson(
        NAMES[index % len(NAMES)], first17 + resident_id_check_char(first17), f"1380000{index:04d}"
    )


def _working_days_back(today: dt.date, days: int) -> dt.date:
    day = today
    while days > 0:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


async def load_demo_cases(
    session: AsyncSession, cipher: FieldCipher, settings: Settings, clerk: User
) -> int:
    """Open the demo cases once (skipped when the centre has any case); returns how many."""
    count = (await session.exec(select(func.count()).select_from(CaseRecord))).one()
    if count:
        return 0
    views = {view.version.handling_kind: view for view in reversed(await all_current(session))}
    today = dt.datetime.now(LOCAL_TZ).date()
    opened, index = 0, 0
    for kind, plans in [*PLANS.items(), *PLANS.items()]:  # twice: a few dozen cases
        view = views.get(kind)
        if view is None or view.item.id is None:
            continue
        for steps, days_ago in plans:
            person = demo_person(index)
            index += 1
            day = _working_days_back(today, days_ago)
            at = dt.datetime.combine(day, dt.time(9, 0), LOCAL_TZ) + dt.timedelta(minutes=index)
            case, _warnings = await do_open_case(
                session=session,
                cipher=cipher,
                settings=settings,
                actor=clerk,
                at=at,
                intake=Intake(
                    item_id=view.item.id,
                    channel="window",
                    applicant_name=person.name,
                    applicant_id_type="resident_id",
                    applicant_id=person.id_number,
                    applicant_phone=person.phone,
                    applicant_address="青山镇青山村",
                ),
            )
            for step, command in enumerate(steps, start=1):
                await do_apply(
                    session=session,
                    cipher=cipher,
                    settings=settings,
                    actor=clerk,
                    case=case,
                    command=command,
                    body=dict(BODIES.get(command, {})),
                    at=at + dt.timedelta(hours=step),
                )
            opened += 1
    return opened
