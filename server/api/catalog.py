"""GET /api/catalog: the whole current catalogue and the working-day calendar, for phones.

Public, like the printed guides. A village agent's phone keeps a copy to read offline and to
count due dates the way the server does; it asks again with `If-None-Match` and, while nothing
has changed, gets a bodyless 304. The version is a hash of the content, not a timestamp, so
every node with the same catalogue and calendar gives the same ETag, and a change anywhere in
it (an edited item, a retired one, a holiday notice entered) gives a new one.

Keys are short on purpose (the payload goes over village mobile data); the models' field
descriptions document each one in the OpenAPI schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, cast

from litestar import Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from pydantic import BaseModel, Field

from server.api.schema_text import listed
from server.calendar.queries import load_calendar
from server.calendar.rules import UNIT_NAMES
from server.catalog.models import HANDLING_KINDS, ITEM_TYPES
from server.catalog.queries import ItemView, all_current
from server.db import Database, utcnow

UNITS = listed(UNIT_NAMES)


class CatalogueMaterial(BaseModel):
    """申请材料：one thing the applicant brings, in the order of the guide."""

    name: str = Field(description="材料名称")
    originals: int = Field(description="原件份数")
    copies: int = Field(description="复印件份数")
    required: bool = Field(description="是否必需：true 必须提交；false 视情况提交")
    gap: bool = Field(description="容缺：true 表示暂缺时签署承诺书可先受理、后补交")


class CatalogueItem(BaseModel):
    """事项：one active service item at its current version."""

    id: int = Field(description="事项在本节点的内部编号（网页地址 /catalog/{id}）")
    code: str = Field(description="实施编码（31 位），办事指南地址 /guide/{code}")
    basic_code: str = Field(description="基本编码（12 位）")
    name: str = Field(description="事项名称")
    type: str = Field(description=f"事项类型代码：{listed(ITEM_TYPES)}")
    kind: str = Field(description=f"办件类型：{listed(HANDLING_KINDS)}")
    dept: str = Field(description="承办机构（可为空）")
    statutory: tuple[int, str] = Field(description=f"法定时限 [数量, 单位]；单位：{UNITS}")
    promised: tuple[int, str] = Field(
        description=f"承诺时限 [数量, 单位]；数量 0 表示当场办结；单位：{UNITS}"
    )
    fee: bool = Field(description="是否收费（收费标准与依据见办事指南）")
    materials: list[CatalogueMaterial] = Field(description="申请材料，按办事指南中的顺序")


class Catalogue(BaseModel):
    """事项目录：every active item, and the working-day calendar to count due dates with."""

    version: str = Field(
        description="内容版本：items、calendar、known_years 的规范 JSON 的 SHA-256 前 16 位"
        "十六进制字符；内容不变则不变，也是响应的 ETag"
    )
    generated_at: dt.datetime = Field(description="生成时间（UTC），不计入 version")
    items: list[CatalogueItem] = Field(description="在用事项，按基本编码排序；已停用的事项不列出")
    calendar: list[tuple[dt.date, bool]] = Field(
        description="工作日历的调整日 [日期 YYYY-MM-DD, 是否上班]，按日期排序：true 为周末调休"
        "上班，false 为放假（含工作日放假）。未列出的日期：周一至周五上班，周六、周日休息"
    )
    known_years: list[int] = Field(
        description="已录入国务院放假安排的年份；其他年份只能按周一至周五计算，到期日仅供参考"
    )


def _item(view: ItemView) -> CatalogueItem:
    version = view.version
    return CatalogueItem(
        id=view.item.id or 0,
        code=view.item.implementation_code,
        basic_code=view.item.basic_code,
        name=version.name,
        type=version.item_type,
        kind=version.handling_kind,
        dept=version.department,
        statutory=(version.statutory_limit, version.statutory_unit),
        promised=(version.promised_limit, version.promised_unit),
        fee=version.fee_charged,
        materials=[
            CatalogueMaterial(
                name=m.name,
                originals=m.originals,
                copies=m.copies,
                required=m.required,
                gap=m.gap_allowed,
            )
            for m in view.materials
        ],
    )


def content_version(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8), first 16 hex digits."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


async def build_catalogue(db: Database) -> Catalogue:
    """The catalogue as it stands: two queries for items and materials, two for the calendar."""
    async with db.session() as session:
        views = await all_current(session)
        calendar = await load_calendar(session)
    items = [_item(view) for view in views]
    # Every override the server counts with (in practice the days of the known years), so a
    # phone counts exactly as the server does.
    days = sorted(calendar.overrides.items())
    years = sorted(calendar.known_years)
    content = {
        "items": [item.model_dump(mode="json") for item in items],
        "calendar": [[day.isoformat(), workday] for day, workday in days],
        "known_years": years,
    }
    return Catalogue(
        version=content_version(content),
        generated_at=utcnow(),
        items=items,
        calendar=days,
        known_years=years,
    )


def etag_matches(header: str | None, version: str) -> bool:
    """If-None-Match against our tag, by the weak comparison (RFC 9110 §13.1.2): `W/` ignored,
    any tag of a comma-separated list, or `*`."""
    if not header:
        return False
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == f'"{version}"':
            return True
    return False


@get(
    "/catalog",
    summary="事项目录",
    description="全部在用事项（当前版本）及工作日历，供手机离线使用。公开，无需登录。"
    "请带上次响应的 ETag 作 If-None-Match：未变化时返回 304，无正文。",
    tags=["catalog"],
    responses={304: ResponseSpec(data_container=None, description="未变化：与 If-None-Match 相同")},
)
async def catalog(request: Request[Any, Any, Any]) -> Response[Catalogue]:
    catalogue = await build_catalogue(request.app.state.db)
    headers = {"ETag": f'"{catalogue.version}"', "Cache-Control": "no-cache"}
    if etag_matches(request.headers.get("if-none-match"), catalogue.version):
        # A 304 has no body; the cast only keeps the declared type the 200's, for the schema.
        return cast("Response[Catalogue]", Response(content=b"", status_code=304, headers=headers))
    return Response(catalogue, headers=headers)
