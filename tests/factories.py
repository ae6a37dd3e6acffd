"""Plain factories: org units, users with known passwords, windows, and the named personas."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette

from server.attachments.actions import do_attach_scan
from server.auth.models import Role, User
from server.cases.actions import Intake, do_open_case
from server.cases.models import CaseRecord
from server.catalog.actions import do_create_item, do_set_claims
from server.catalog.codes import uscc_check_char
from server.catalog.models import CatalogItem
from server.catalog.rules import ItemDraft, MaterialDraft
from server.db import Database
from server.org.actions import do_ensure_node_units, do_ensure_org_unit
from server.users.actions import UserFields, do_create_user
from server.windows.actions import WindowFields, do_create_window
from server.windows.models import Window

PASSWORD = "test-pass-2026"
TOWNSHIP = "990102101000"
VILLAGE = "990102101201"
OTHER_VILLAGE = "990102101202"
OTHER_TOWNSHIP = "990102102000"


async def make_user(app: Starlette, **over: Any) -> User:
    """A user with the known PASSWORD and no forced password change, unless told otherwise."""
    db: Database = app.state.db
    role = over.pop("role", Role.CLERK)
    username = over.pop("username", f"{role}.{over.get('org_unit_code', TOWNSHIP)[-4:]}")
    fields = UserFields(
        username=username,
        display_name=over.pop("display_name", "测试用户"),
        phone=over.pop("phone", ""),
        role=role,
        org_unit_code=over.pop("org_unit_code", TOWNSHIP),
    )
    async with db.session() as session:
        return await do_create_user(
            session=session,
            cipher=app.state.cipher,
            actor=None,
            fields=fields,
            password=over.pop("password", PASSWORD),
            must_change_password=over.pop("must_change_password", False),
        )


async def make_window(app: Starlette, **over: Any) -> Window:
    db: Database = app.state.db
    fields = WindowFields(
        number=over.pop("number", 1),
        name=over.pop("name", "综合受理窗口"),
        is_general=over.pop("is_general", True),
        post_a_id=over.pop("post_a_id", None),
        post_b_id=over.pop("post_b_id", None),
        active=over.pop("active", True),
    )
    async with db.session() as session:
        return await do_create_window(
            session=session,
            actor=None,
            org_unit_code=over.pop("org_unit_code", TOWNSHIP),
            fields=fields,
        )


@dataclass
class Personas:
    """One user per role in the township, plus the org units around them."""

    by_role: dict[str, User] = field(default_factory=dict)
    window: Window | None = None
    item: CatalogItem | None = None
    case_id: str | None = None  # set by `make_persona_case`

    @property
    def admin(self) -> User:
        return self.by_role[Role.ADMIN]

    @property
    def village_clerk(self) -> User:  # the village agent, as STYLE.md names the persona
        return self.by_role[Role.VILLAGE_AGENT]

    @property
    def township_officer(self) -> User:
        return self.by_role[Role.CLERK]


async def make_org_units(app: Starlette) -> None:
    db: Database = app.state.db
    async with db.session() as session:
        await do_ensure_node_units(session=session, settings=app.state.settings)
        for code, name in ((VILLAGE, "青山村"), (OTHER_VILLAGE, "石桥村")):
            await do_ensure_org_unit(
                session=session, code=code, name=name, level="village", parent_code=TOWNSHIP
            )
        await do_ensure_org_unit(
            session=session,
            code=OTHER_TOWNSHIP,
            name="白水乡",
            level="township",
            parent_code="990102",
        )
        await session.commit()


async def make_personas(app: Starlette) -> Personas:
    await make_org_units(app)
    personas = Personas()
    for role in Role:
        unit = VILLAGE if role == Role.VILLAGE_AGENT else TOWNSHIP
        personas.by_role[role] = await make_user(
            app,
            role=role,
            username=f"p.{role.value.replace('_', '-')}",
            org_unit_code=unit,
            display_name=f"{role.value}测试",
        )
    clerk, lead = personas.by_role[Role.CLERK], personas.by_role[Role.WINDOW_LEAD]
    personas.window = await make_window(app, post_a_id=clerk.id, post_b_id=lead.id)
    personas.item = await make_item(app)
    return personas


async def make_persona_case(app: Starlette, personas: Personas) -> str:
    """The centre claims the persona item and the clerk opens a case for it (state submitted).

    Not part of `make_personas`: tests that count cases or claims start from none.
    """
    assert personas.item is not None and personas.item.id is not None
    async with app.state.db.session() as session:
        await do_set_claims(session=session, actor=personas.admin, item_ids={personas.item.id})
        case, _warnings = await do_open_case(
            session=session,
            cipher=app.state.cipher,
            settings=app.state.settings,
            actor=personas.township_officer,
            intake=Intake(
                item_id=personas.item.id,
                channel="window",
                applicant_name="王秀兰",
                applicant_id_type="resident_id",
                applicant_id="11010519491231002X",
                applicant_phone="13912345678",
                applicant_address="青山镇青山村三组 12 号",
            ),
        )
    personas.case_id = case.id
    return case.id


async def make_persona_scan(app: Starlette, personas: Personas, data: bytes) -> str:
    """The clerk attaches `data` (a scan) to the persona case as 居民身份证; returns its hash."""
    assert personas.case_id is not None
    async with app.state.db.session() as session:
        case = await session.get(CaseRecord, personas.case_id)
        assert case is not None
        attached = await do_attach_scan(
            session=session,
            cipher=app.state.cipher,
            settings=app.state.settings,
            actor=personas.township_officer,
            case=case,
            material="居民身份证",
            file_name="身份证.png",
            data=data,
        )
    return attached.sha256


BODY_USCC = "11990102MB0000001"  # 17 characters; the check character is computed


def item_draft(**over: Any) -> ItemDraft:
    """A valid promised township item; override any element."""
    basic = over.pop("basic_code", "992000101000")
    level = over.pop("level", "5")
    uscc = BODY_USCC + uscc_check_char(BODY_USCC)
    data: dict[str, Any] = {
        "basic_code": basic,
        "implementation_code": uscc + level + basic,
        "name": "测试事项",
        "item_type": "20",
        "level": level,
        "implementing_body": "青山镇人民政府",
        "department": "民政办",
        "handling_kind": "promised",
        "statutory_limit": 20,
        "promised_limit": 8,
        "legal_basis": "《社会救助暂行办法》",
        "conditions": "本镇户籍居民",
        "process": "申请\n受理\n审查\n决定\n送达",
        "place_and_time": "青山镇便民服务中心 1 号窗口",
        "enquiry_phone": "0000-8800101",
        "result_name": "审批表",
        "materials": [
            MaterialDraft(name="居民身份证", originals=1, copies=1),
            MaterialDraft(name="申请书", originals=1, gap_allowed=True),
        ],
    }
    data.update(over)
    materials = data.pop("materials")
    return ItemDraft(**data, materials=materials)


async def make_item(app: Starlette, **over: Any) -> CatalogItem:
    """A catalogue item created by the node itself (as the demo or the sync would)."""
    async with app.state.db.session() as session:
        return await do_create_item(
            session=session, settings=app.state.settings, actor=None, draft=item_draft(**over)
        )


async def make_county_admin(app: Starlette) -> User:
    """The county node's own unit and its admin, `county.admin`."""
    async with app.state.db.session() as session:
        await do_ensure_node_units(session=session, settings=app.state.settings)
    return await make_user(
        app,
        username="county.admin",
        role=Role.ADMIN,
        org_unit_code="990102",
        display_name="县管理员",
    )


async def open_intake(
    app: Starlette, actor: User, intake: Intake, at: dt.datetime | None = None
) -> CaseRecord:
    """Open a case through the real intake action, as `actor`."""
    async with app.state.db.session() as session:
        case, _warnings = await do_open_case(
            session=session,
            cipher=app.state.cipher,
            settings=app.state.settings,
            actor=actor,
            intake=intake,
            at=at,
        )
    return case
