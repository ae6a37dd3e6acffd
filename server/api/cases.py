"""The case actions for kiosks and integrations: /api/cases.

The same actions (`do_open_case`, `do_apply`), access function (`access_case_by_id`), list
queries (`search_cases`, with the page's own filter parsing) and command set as the pages,
so nothing is written twice. The applicant's ID number and phone are always masked here: a
full reveal is audited and belongs to the case page. Errors: 404 for a case the user may not
see, 409 when the state machine refuses, 422 with `errors` by field, 403 for a role.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, cast

from litestar import Request, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import QueryParams

from server.api.schema_text import listed
from server.attachments.access import linked_scans
from server.attachments.media import MEDIA_NAMES
from server.auth.access import NotFound, current_user
from server.auth.models import Role, User
from server.calendar.queries import load_calendar
from server.cases.access import access_case_by_id
from server.cases.actions import (
    Intake,
    ReceivedMaterial,
    applicant_in_clear,
    commands_for,
    do_apply,
    do_open_case,
    issuable_here,
)
from server.cases.deadlines import LEVEL_NAMES, relay_deadline
from server.cases.events import events_of, open_body
from server.cases.identity import ID_TYPES
from server.cases.list_views import read_filters
from server.cases.lists import CaseRow, search_cases
from server.cases.machine import (
    COMMAND_NAMES,
    KIND_NAMES,
    NODE_NAMES,
    STATE_NAMES,
    Command,
    Kind,
    State,
)
from server.cases.models import APPLICANT_KINDS, CHANNELS, CaseRecord
from server.cases.presentation import actor_namer, event_details, local_actor_ids, mask, names_of
from server.catalog.queries import item_view
from server.crypto.fields import FieldCipher
from server.db import Database, utcnow
from server.policy.queries import load_policy
from server.settings import Settings

# --- models ------------------------------------------------------------------------------------


class MaterialIn(BaseModel):
    """收到的一项申请材料（须是事项当前版本办事指南中的材料）。"""

    model_config = ConfigDict(populate_by_name=True)

    name: str = Field(description="材料名称，与办事指南一致")
    original: bool = Field(default=False, description="是否收到原件")
    copy_: bool = Field(default=False, alias="copy", description="是否收到复印件")


class CaseCreate(BaseModel):
    """登记办件（收件）：申请人信息与收到的材料。村代办员登记的渠道总是 village_agent。"""

    item_id: int = Field(description="事项编号（/api/catalog 中的 id），须是本中心认领的在用事项")
    channel: str = Field(default="window", description=f"申请渠道：{listed(CHANNELS)}")
    applicant_kind: str = Field(
        default="natural", description=f"申请人类型：{listed(APPLICANT_KINDS)}"
    )
    applicant_name: str = Field(description="申请人姓名或单位名称，不超过 100 个字")
    applicant_id_type: str = Field(
        default="resident_id", description=f"证件类型：{listed(ID_TYPES)}"
    )
    applicant_id: str = Field(description="证件号码（居民身份证按 GB 11643 校验）")
    applicant_phone: str = Field(default="", description="手机号码（可空）")
    applicant_address: str = Field(default="", description="地址（可空），不超过 500 个字")
    materials: list[MaterialIn] = Field(default_factory=list, description="收到的材料")


class CommandBody(BaseModel):
    """办理操作的内容：各操作只读取自己需要的字段，其余忽略。"""

    reasons: str | None = Field(
        default=None,
        description="理由：不予受理（refuse）必填；办结不予（decide, outcome=deny）必填",
    )
    missing: list[str] | None = Field(
        default=None, description="一次性告知（notify_missing）：缺少或需补正的全部材料，至少一项"
    )
    gaps: list[str] | None = Field(
        default=None, description="容缺受理（accept_with_gaps）：容缺的材料，须是允许容缺的材料"
    )
    commit_by: str | None = Field(
        default=None, description="容缺受理：申请人承诺补齐的日期 YYYY-MM-DD，不早于今天"
    )
    received: list[str] | None = Field(default=None, description="补正（supplement）：补正的材料")
    outcome: str | None = Field(
        default=None, description="办结（decide）：办理结果，approve=准予，deny=不予"
    )
    reason: str | None = Field(default=None, description="延期（extend）、中止（suspend）的理由")
    days: int | None = Field(default=None, description="延期（extend）：延长的工作日数，1–60")
    method: str | None = Field(
        default=None,
        description="送达（deliver）：window=窗口领取，post=邮寄送达，electronic=电子送达",
    )
    ems_number: str | None = Field(default=None, description="邮寄送达的 EMS 邮件号")
    material: str | None = Field(default=None, description="补齐容缺材料（close_gap）：材料名称")
    task: str | None = Field(default=None, description="联办任务完成（task_done）：协办部门")


class Applicant(BaseModel):
    """申请人（证件号码与手机号码总是部分隐藏）。"""

    kind: str = Field(description=f"申请人类型代码：{listed(APPLICANT_KINDS)}")
    name: str = Field(description="申请人姓名或单位名称")
    id_type: str = Field(description=f"证件类型代码：{listed(ID_TYPES)}")
    id_number: str = Field(description="证件号码，中间以 * 隐藏，例如 110105********002X")
    phone: str = Field(description="手机号码，中间以 * 隐藏，例如 139****5678；未登记为空")
    address: str = Field(description="地址（与办件页面相同，完整显示）；未登记为空")


class TimelineEntry(BaseModel):
    """办件的一个事件（只增不改）。"""

    seq: int = Field(description="事件序号，从 1 开始")
    kind: str = Field(description="操作代码，例如 submit、accept、decide")
    name: str = Field(description="操作名称，例如 受理")
    at: dt.datetime = Field(description="发生时间（UTC）")
    actor: str = Field(description="操作人姓名；其他节点的操作人为 <区划代码>/<用户编号>")
    details: list[str] = Field(description="可读的说明（不含证件号码和手机号码）")


class AttachmentOut(BaseModel):
    """办件的一个材料扫描件（由“上传扫描件”事件关联）。"""

    material: str = Field(description="对应的材料名称（事项该版本的材料之一，或“其他”）")
    sha256: str = Field(description="文件内容的 SHA-256（小写十六进制），即扫描件的编号")
    name: str = Field(description="上传时的文件名")
    media_type: str = Field(description=f"文件类型（按内容判断）：{listed(MEDIA_NAMES)}")
    size: int = Field(description="文件大小（字节）")


class CaseSummary(BaseModel):
    """办件列表中的一行。"""

    id: str = Field(description="办件编号（UUID）")
    serial: str = Field(description="办事流水号，例如 990102101-261122-00042-93")
    item_id: int = Field(description="事项编号")
    item_name: str = Field(description="事项名称（受理时的版本）")
    kind: str = Field(description=f"办件类型代码：{listed(KIND_NAMES)}")
    state: str = Field(description="状态代码")
    state_name: str = Field(description="状态名称，例如 已受理")
    applicant_name: str = Field(description="申请人姓名或单位名称")
    responsible: str = Field(description="首问责任人姓名；村代办登记的为空")
    level: str = Field(description=f"预警：{listed(LEVEL_NAMES)}")
    received_at: dt.datetime = Field(description="收件时间（UTC）")
    due_at: dt.datetime | None = Field(description="承诺办结期限（UTC）；受理前为空")


class CaseList(BaseModel):
    """一页办件。"""

    items: list[CaseSummary] = Field(description="本页的办件")
    total: int = Field(description="符合条件的办件总数")
    page: int = Field(description="页码，从 1 开始")
    pages: int = Field(description="总页数")
    size: int = Field(description="每页条数")


class CaseDetail(BaseModel):
    """一个办件：状态、期限、申请人（部分隐藏）和全部事件。"""

    id: str = Field(description="办件编号（UUID）")
    serial: str = Field(description="办事流水号")
    item_id: int = Field(description="事项编号")
    item_version: int = Field(description="受理时的事项版本")
    item_name: str = Field(description="事项名称（该版本）")
    kind: str = Field(description=f"办件类型代码：{listed(KIND_NAMES)}")
    kind_name: str = Field(description="办件类型名称")
    state: str = Field(description="状态代码")
    state_name: str = Field(description="状态名称")
    owner: str = Field(description=f"当前办理节点：{listed(NODE_NAMES)}")
    channel: str = Field(description=f"申请渠道：{listed(CHANNELS)}")
    applicant: Applicant = Field(description="申请人")
    received_at: dt.datetime = Field(description="收件时间（UTC）")
    accepted_at: dt.datetime | None = Field(description="受理时间（UTC）")
    due_at: dt.datetime | None = Field(description="承诺办结期限（UTC），含延期与暂停顺延")
    relay_due_at: dt.datetime | None = Field(
        description="上报件的上报期限（UTC）：乡镇尚未上报时给出，其余为空"
    )
    completed_at: dt.datetime | None = Field(description="办结时间（UTC）")
    delivered_at: dt.datetime | None = Field(description="送达时间（UTC）")
    commands: list[str] = Field(
        description="当前用户在本节点现在可以执行的操作代码（POST .../commands/{command}）"
    )
    timeline: list[TimelineEntry] = Field(description="事件，按序号排列")
    attachments: list[AttachmentOut] = Field(
        description="材料扫描件，按上传顺序；网页 /cases/{id}/attachments/{sha256} 可查看"
    )


class CreatedCase(CaseDetail):
    """新登记的办件，附带提示。"""

    warnings: list[str] = Field(description="提示（例如统一社会信用代码校验位不符），不影响登记")


# --- shared ------------------------------------------------------------------------------------


def _state(request: Request[Any, Any, Any]) -> tuple[Database, FieldCipher, Settings]:
    state = request.app.state
    return (
        cast(Database, state.db),
        cast(FieldCipher, state.cipher),
        cast(Settings, state.settings),
    )


def _applicant(cipher: FieldCipher, case: CaseRecord) -> Applicant:
    clear = applicant_in_clear(cipher, case)
    number, phone = clear.id_number, clear.phone
    return Applicant(
        address=clear.address,
        kind=case.applicant_kind,
        name=case.applicant_name,
        id_type=case.applicant_id_type,
        id_number=mask(number, 6),
        phone=mask(phone, 3) if phone else "",
    )


async def _detail(
    session: AsyncSession, cipher: FieldCipher, settings: Settings, user: User, case_id: str
) -> CaseDetail:
    case = await access_case_by_id(session, user, case_id)
    view = await item_view(session, case.item_id, case.item_version)
    events = [(e, open_body(cipher, e)) for e in await events_of(session, case.id)]
    relay_due_at = relay_deadline(
        case,
        kind=case.kind,
        owner=case.owner,
        calendar=await load_calendar(session),
        relay_percent=(await load_policy(session)).relay_percent,
    )
    local = local_actor_ids(settings.region_code, (e for e, _ in events))
    actor_name = actor_namer(settings.region_code, await names_of(session, local))

    return CaseDetail(
        id=case.id,
        serial=case.serial,
        item_id=case.item_id,
        item_version=case.item_version,
        item_name=view.version.name,
        kind=case.kind,
        kind_name=KIND_NAMES.get(cast(Kind, case.kind), case.kind),
        state=case.state,
        state_name=STATE_NAMES.get(cast(State, case.state), case.state),
        owner=case.owner,
        channel=case.channel,
        applicant=_applicant(cipher, case),
        received_at=case.received_at,
        accepted_at=case.accepted_at,
        due_at=case.due_at,
        relay_due_at=relay_due_at,
        completed_at=case.completed_at,
        delivered_at=case.delivered_at,
        commands=[c for c in commands_for(settings, user, case) if issuable_here(c, settings)],
        timeline=[
            TimelineEntry(
                seq=e.seq,
                kind=e.kind,
                name=COMMAND_NAMES.get(cast(Command, e.kind), e.kind),
                at=e.at,
                actor=actor_name(e.actor),
                details=event_details(e.kind, body),
            )
            for e, body in events
        ],
        attachments=[
            AttachmentOut(
                material=s.material,
                sha256=s.sha256,
                name=s.name,
                media_type=s.media_type,
                size=s.size,
            )
            for s in linked_scans(events)
        ],
    )


def _summary(row: CaseRow) -> CaseSummary:
    case = row.case
    return CaseSummary(
        id=case.id,
        serial=case.serial,
        item_id=case.item_id,
        item_name=row.item_name,
        kind=case.kind,
        state=case.state,
        state_name=STATE_NAMES.get(cast(State, case.state), case.state),
        applicant_name=case.applicant_name,
        responsible=row.responsible,
        level=row.level,
        received_at=case.received_at,
        due_at=case.due_at,
    )


# --- handlers ----------------------------------------------------------------------------------

CaseId = Annotated[str, PathParameter(description="办件编号（UUID）")]
ERRORS = "错误：401 未登录；403 角色无权；404 办件不存在或无权查看；"


@post(
    "/cases",
    summary="登记办件",
    description="收件登记，状态为“已提交”。窗口工作人员、管理员与村代办员可用。"
    "422 时 errors 按字段给出中文说明。",
    tags=["cases"],
)
async def create_case(request: Request[Any, Any, Any], data: JSONBody[CaseCreate]) -> CreatedCase:
    user = current_user(request)
    db, cipher, settings = _state(request)
    intake = Intake(
        item_id=data.item_id,
        channel="village_agent" if user.role == Role.VILLAGE_AGENT else data.channel,
        applicant_name=data.applicant_name,
        applicant_id_type=data.applicant_id_type,
        applicant_id=data.applicant_id,
        applicant_kind=data.applicant_kind,
        applicant_phone=data.applicant_phone,
        applicant_address=data.applicant_address,
        materials=[
            ReceivedMaterial(name=m.name, original=m.original, copy=m.copy_) for m in data.materials
        ],
    )
    async with db.session() as session:
        case, warnings = await do_open_case(
            session=session, cipher=cipher, settings=settings, actor=user, intake=intake
        )
        detail = await _detail(session, cipher, settings, user, case.id)
    return CreatedCase(**detail.model_dump(), warnings=warnings)


@get(
    "/cases",
    summary="办件列表",
    description="与网页“办件”列表相同的范围、筛选与搜索；每页 20 条。",
    tags=["cases"],
)
async def list_cases(
    request: Request[Any, Any, Any],
    list_scope: Annotated[
        str,
        QueryParameter(
            name="scope",
            description="范围：mine=我的办件，window=本窗口办件，centre=本中心办件；"
            "默认按角色（督查、管理员为 centre，其余为 mine）",
        ),
    ] = "",
    state_code: Annotated[str, QueryParameter(name="state", description="状态代码")] = "",
    kind: Annotated[str, QueryParameter(description="办件类型代码")] = "",
    item: Annotated[str, QueryParameter(description="事项编号")] = "",
    level: Annotated[str, QueryParameter(description="预警：yellow=黄牌，red=红牌")] = "",
    received_from: Annotated[
        str, QueryParameter(name="from", description="收件日期起 YYYY-MM-DD（含）")
    ] = "",
    received_to: Annotated[
        str, QueryParameter(name="to", description="收件日期止 YYYY-MM-DD（含）")
    ] = "",
    q: Annotated[
        str, QueryParameter(description="搜索：流水号、证件号码（按密钥哈希）或申请人姓名")
    ] = "",
    sort: Annotated[
        str, QueryParameter(description="排序：due=按办理期限（默认），received=按收件时间")
    ] = "",
    page: Annotated[int, QueryParameter(description="页码，从 1 开始")] = 1,
) -> CaseList:
    user = current_user(request)
    db, cipher, _settings = _state(request)
    params = {
        "scope": list_scope,
        "state": state_code,
        "kind": kind,
        "item": item,
        "level": level,
        "from": received_from,
        "to": received_to,
        "q": q,
        "sort": sort,
    }
    filters = read_filters(QueryParams(params), user)  # the page's own parsing
    async with db.session() as session:
        calendar = await load_calendar(session)
        policy = await load_policy(session)
        found = await search_cases(
            session,
            cipher,
            actor=user,
            filters=filters,
            now=utcnow(),
            calendar=calendar,
            warning_percent=policy.warning_percent,
            page=page,
        )
    return CaseList(
        items=[_summary(row) for row in found.items],
        total=found.total,
        page=found.number,
        pages=found.pages,
        size=found.size,
    )


@get(
    "/cases/{case_id:str}",
    summary="办件详情",
    description="状态、期限、申请人（证件号码与手机号码部分隐藏）与全部事件。" + ERRORS,
    tags=["cases"],
)
async def show_case(request: Request[Any, Any, Any], case_id: CaseId) -> CaseDetail:
    user = current_user(request)
    db, cipher, settings = _state(request)
    async with db.session() as session:
        return await _detail(session, cipher, settings, user, case_id)


@post(
    "/cases/{case_id:str}/commands/{command:str}",
    status_code=200,
    summary="办理操作",
    description="对办件执行一个操作（与办件页面相同的操作集，例如 accept、accept_with_gaps、"
    "notify_missing、refuse、start_review、decide、deliver），返回更新后的办件。"
    + ERRORS
    + "409 当前状态不能执行该操作；422 内容有误（errors 按字段说明）",
    tags=["cases"],
)
async def case_command(
    request: Request[Any, Any, Any],
    case_id: CaseId,
    command: Annotated[str, PathParameter(description="操作代码，例如 accept、decide、deliver")],
    data: JSONBody[CommandBody | None] = None,
) -> CaseDetail:
    user = current_user(request)
    db, cipher, settings = _state(request)
    if not issuable_here(command, settings):
        raise NotFound("没有这个办理操作")
    body = data.model_dump(exclude_none=True) if data is not None else {}
    async with db.session() as session:
        case = await access_case_by_id(session, user, case_id)
        await do_apply(
            session=session,
            cipher=cipher,
            settings=settings,
            actor=user,
            case=case,
            command=command,
            body=body,
        )
    async with db.session() as session:
        return await _detail(session, cipher, settings, user, case_id)


HANDLERS = [create_case, list_cases, show_case, case_command]
