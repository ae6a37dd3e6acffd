"""Demo data for a county or a township node: org units, one user per role, windows.

Region codes start with 99, which no real province has, so demo data is never mistaken for
real data. Passwords are random and written, readable by the owner alone, to
DATA/demo-logins.txt, which is also printed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth.models import Role, User
from server.cases.demo import load_demo_cases
from server.catalog.demo import load_demo_catalogue
from server.crypto.fields import FieldCipher
from server.org.actions import do_ensure_node_units, do_ensure_org_unit
from server.settings import Settings
from server.users.actions import UserFields, do_create_user, temporary_password
from server.windows.actions import WindowFields, do_create_window
from server.windows.queries import windows_of_unit

DEMO_COUNTY = ("990102", "示范县")
DEMO_TOWNSHIPS = (("101", "青山镇"), ("102", "白水乡"))
VILLAGES = {"101": ("青山村", "石桥村", "柳溪村"), "102": ("白水村", "枫林村", "桃源村")}
LOGINS_FILE = "demo-logins.txt"


@dataclass(frozen=True)
class DemoUser:
    suffix: str
    name: str
    role: Role
    village: int | None = None  # index into the node's villages


TOWNSHIP_USERS = (
    DemoUser("admin", "周敏", Role.ADMIN),
    DemoUser("lead", "陈建华", Role.WINDOW_LEAD),
    DemoUser("clerk", "李晓燕", Role.CLERK),
    DemoUser("clerk2", "王磊", Role.CLERK),
    DemoUser("supervisor", "赵国强", Role.SUPERVISOR),
    DemoUser("agent1", "刘大山", Role.VILLAGE_AGENT, 0),
    DemoUser("agent2", "孙秀英", Role.VILLAGE_AGENT, 1),
    DemoUser("agent3", "吴春生", Role.VILLAGE_AGENT, 2),
)
COUNTY_USERS = (
    DemoUser("admin", "郑文", Role.ADMIN),
    DemoUser("lead", "黄丽", Role.WINDOW_LEAD),
    DemoUser("clerk", "何平", Role.CLERK),
    DemoUser("supervisor", "马志远", Role.SUPERVISOR),
)


def _villages_of(township_code: str) -> list[tuple[str, str]]:
    names = VILLAGES.get(township_code[6:9], VILLAGES["101"])
    return [(f"{township_code[:9]}{201 + i}", name) for i, name in enumerate(names)]


async def load_demo(session: AsyncSession, cipher: FieldCipher, settings: Settings) -> list[str]:
    """Load what is missing and return the sign-in lines for the users created now."""
    await do_ensure_node_units(session=session, settings=settings)
    prefix = "xian" if settings.role == "county" else "zhen"
    villages: list[str] = []
    if settings.role == "county":
        for code, name in DEMO_TOWNSHIPS:
            township = f"{settings.region_code}{code}000"
            await do_ensure_org_unit(
                session=session,
                code=township,
                name=name,
                level="township",
                parent_code=settings.region_code,
            )
            for village, village_name in _villages_of(township):
                await do_ensure_org_unit(
                    session=session,
                    code=village,
                    name=village_name,
                    level="village",
                    parent_code=township,
                )
    else:
        for village, village_name in _villages_of(settings.region_code):
            await do_ensure_org_unit(
                session=session,
                code=village,
                name=village_name,
                level="village",
                parent_code=settings.region_code,
            )
            villages.append(village)
    await session.commit()

    lines: list[str] = []
    created: dict[str, User] = {}
    for person in COUNTY_USERS if settings.role == "county" else TOWNSHIP_USERS:
        username = f"{prefix}.{person.suffix}"
        existing = (await session.exec(select(User).where(User.username == username))).first()
        if existing is not None:
            created[person.suffix] = existing
            continue
        password = temporary_password()
        unit = villages[person.village] if person.village is not None else settings.region_code
        user = await do_create_user(
            session=session,
            cipher=cipher,
            actor=None,
            password=password,
            must_change_password=False,
            fields=UserFields(
                username=username,
                display_name=person.name,
                phone="",
                role=person.role,
                org_unit_code=unit,
            ),
        )
        created[person.suffix] = user
        lines.append(f"{person.role.value:<14} {username:<18} {password}   {person.name}")

    if not await windows_of_unit(session, settings.region_code):
        windows = [
            WindowFields(
                1,
                "综合受理窗口",
                True,
                created["clerk"].id,
                created.get("clerk2", created["lead"]).id,
            ),
            WindowFields(
                2,
                "社保医保窗口" if settings.role == "township" else "民政事务窗口",
                False,
                created["lead"].id,
                created["clerk"].id,
            ),
        ]
        for fields in windows:
            await do_create_window(
                session=session, actor=None, org_unit_code=settings.region_code, fields=fields
            )
    await load_demo_catalogue(session, settings)
    if settings.role == "township":
        await load_demo_cases(session, cipher, settings, created["clerk"])
    return lines


def save_logins(settings: Settings, lines: list[str]) -> str:
    """Append new sign-ins to DATA/demo-logins.txt (owner-only) and return the whole file."""
    path = settings.data_dir / LOGINS_FILE
    if lines:
        header = "" if path.exists() else f"# {settings.name} 演示账号（角色 用户名 密码 姓名）\n"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(header + "".join(line + "\n" for line in lines))
    return path.read_text(encoding="utf-8") if path.exists() else ""
