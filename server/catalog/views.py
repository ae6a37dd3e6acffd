"""The catalogue pages: search and read for everyone signed in; edit, versions and retire for
the county admin; which items a centre handles, for its admin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.access import current_user
from server.auth.models import Role
from server.calendar.rules import UNIT_NAMES
from server.catalog.actions import (
    do_create_item,
    do_set_claims,
    do_set_item_status,
    do_update_item,
    require_catalogue_editor,
    require_centre_admin,
)
from server.catalog.forms import draft_values, parse_item_form
from server.catalog.models import (
    HANDLING_KINDS,
    ITEM_TYPES,
    LEVELS,
    RESULT_TYPES,
    STATUSES,
    CatalogItem,
    CatalogItemVersion,
)
from server.catalog.queries import (
    ItemFilters,
    ItemView,
    claimed_item_ids,
    departments,
    item_view,
    search_items,
    versions_of,
)
from server.catalog.rules import ItemDraft
from server.context import flash, get_db, get_settings
from server.forms import ValidationFailed, whole_number
from server.policy.queries import Policy, load_policy
from server.templating import render
from server.users.queries import Page

CHOICES = {
    "item_types": ITEM_TYPES,
    "levels": LEVELS,
    "kinds": HANDLING_KINDS,
    "units": UNIT_NAMES,
    "result_types": RESULT_TYPES,
    "statuses": STATUSES,
}
BLANK_MATERIAL_ROWS = 3


@dataclass
class CatalogListPage:
    page: Page[tuple[CatalogItem, CatalogItemVersion]]
    filters: ItemFilters
    departments: list[str]
    choices: dict[str, dict[str, str]]
    can_edit: bool
    claimed: set[int]
    only_claimed: bool


@dataclass
class CatalogItemPage:
    view: ItemView
    versions: list[CatalogItemVersion]
    choices: dict[str, dict[str, str]]
    can_edit: bool
    is_current: bool


@dataclass
class CatalogFormPage:
    values: dict[str, str]
    materials: list[dict[str, str]]
    errors: dict[str, str]
    choices: dict[str, dict[str, str]]
    policy: Policy
    item: CatalogItem | None = None
    change_note: str = ""


@dataclass
class CatalogComparePage:
    item: CatalogItem
    left: ItemView
    right: ItemView
    rows: list[tuple[str, str, str]]
    material_rows: list[tuple[str, str]]


@dataclass
class CatalogClaimsPage:
    views: list[tuple[CatalogItem, CatalogItemVersion]]
    claimed: set[int]
    choices: dict[str, dict[str, str]]
    errors: dict[str, str] = field(default_factory=dict)


def _can_edit(request: Request) -> bool:
    user = current_user(request)
    return get_settings(request).role == "county" and user.role == Role.ADMIN


def _filters(request: Request) -> ItemFilters:
    params = request.query_params
    pick = {name: params.get(name, "") for name in ("item_type", "handling_kind", "status")}
    return ItemFilters(
        text=params.get("q", "").strip()[:100],
        item_type=pick["item_type"] if pick["item_type"] in ITEM_TYPES else "",
        handling_kind=pick["handling_kind"] if pick["handling_kind"] in HANDLING_KINDS else "",
        department=params.get("department", "").strip()[:100],
        status=pick["status"]
        if pick["status"] in STATUSES or pick["status"] == "all"
        else "active",
    )


async def catalog_list(request: Request) -> Response:
    user = current_user(request)
    filters = _filters(request)
    number = whole_number(request.query_params.get("page")) or 1
    only_claimed = request.query_params.get("mine") == "1"
    async with get_db(request).session() as session:
        claimed = await claimed_item_ids(session, user.org_unit_code)
        search = ItemFilters(
            **{**vars(filters), "status": "" if filters.status == "all" else filters.status}
        )
        page = await search_items(
            session, search, page=number, only_ids=claimed if only_claimed else None
        )
        names = await departments(session)
    context = CatalogListPage(
        page, filters, names, CHOICES, _can_edit(request), claimed, only_claimed
    )
    return render(request, "catalog/list.html", context, block="results")


async def catalog_show(request: Request) -> Response:
    current_user(request)
    raw = request.query_params.get("version", "")
    async with get_db(request).session() as session:
        view = await item_view(session, request.path_params["item_id"], whole_number(raw))
        versions = await versions_of(session, request.path_params["item_id"])
    is_current = view.version.version == view.item.current_version
    page = CatalogItemPage(view, versions, CHOICES, _can_edit(request), is_current)
    return render(request, "catalog/show.html", page)


async def _form(
    request: Request,
    values: dict[str, str],
    materials: list[dict[str, str]],
    errors: dict[str, str],
    item: CatalogItem | None,
    status_code: int = 200,
    change_note: str = "",
) -> Response:
    blank = dict.fromkeys(
        ("name", "issuer", "note", "sample", "originals", "copies", "gap_allowed"), ""
    ) | {"required": "on"}
    rows = materials + [dict(blank) for _ in range(BLANK_MATERIAL_ROWS)]
    async with get_db(request).session() as session:
        policy = await load_policy(session)
    page = CatalogFormPage(values, rows, errors, CHOICES, policy, item, change_note)
    return render(request, "catalog/form.html", page, status_code=status_code)


async def catalog_new(request: Request) -> Response:
    user = current_user(request)
    require_catalogue_editor(user, get_settings(request))
    values, _rows = draft_values(
        ItemDraft(
            basic_code="",
            implementation_code="",
            name="",
            item_type="20",
            level="5",
            implementing_body="",
            statutory_limit=20,
            promised_limit=5,
        )
    )
    return await _form(request, values, [], {}, None)


async def catalog_create(request: Request) -> Response:
    user = current_user(request)
    settings = get_settings(request)
    require_catalogue_editor(user, settings)
    draft, values, rows, errors = parse_item_form(await request.form())
    async with get_db(request).session() as session:
        try:
            if errors:
                raise ValidationFailed(errors)
            item = await do_create_item(session=session, settings=settings, actor=user, draft=draft)
        except ValidationFailed as failed:
            return await _form(request, values, rows, failed.errors, None, 422)
    flash(request, f"已新增事项“{draft.name}”。")
    return RedirectResponse(f"/catalog/{item.id}", status_code=303)


async def catalog_edit(request: Request) -> Response:
    user = current_user(request)
    require_catalogue_editor(user, get_settings(request))
    async with get_db(request).session() as session:
        view = await item_view(session, request.path_params["item_id"])
    values, rows = draft_values(view.draft())
    return await _form(request, values, rows, {}, view.item)


async def catalog_update(request: Request) -> Response:
    user = current_user(request)
    settings = get_settings(request)
    require_catalogue_editor(user, settings)
    form = await request.form()
    draft, values, rows, errors = parse_item_form(form)
    note = str(form.get("change_note", "")).strip()
    async with get_db(request).session() as session:
        item = (await item_view(session, request.path_params["item_id"])).item
        try:
            if errors:
                raise ValidationFailed(errors)
            version = await do_update_item(
                session=session,
                settings=settings,
                actor=user,
                item=item,
                draft=draft,
                change_note=note,
            )
        except ValidationFailed as failed:
            return await _form(request, values, rows, failed.errors, item, 422, note)
    flash(request, f"已保存为第 {version.version} 版。此前受理的办件仍按原版本办理。")
    return RedirectResponse(f"/catalog/{item.id}", status_code=303)


COMPARED = [
    ("name", "事项名称"),
    ("item_type", "事项类型"),
    ("level", "行使层级"),
    ("implementing_body", "实施主体"),
    ("department", "承办机构"),
    ("legal_basis", "设立依据"),
    ("conditions", "受理条件"),
    ("process", "办理流程"),
    ("handling_kind", "办件类型"),
    ("lead_department", "牵头部门"),
    ("co_departments", "协办部门"),
    ("decision_body", "审批（决定）机关"),
    ("statutory_limit", "法定时限"),
    ("statutory_unit", "法定时限单位"),
    ("promised_limit", "承诺时限"),
    ("promised_unit", "承诺时限单位"),
    ("fee_standard", "收费标准"),
    ("fee_basis", "收费依据"),
    ("result_name", "办理结果"),
    ("visits_required", "到现场次数"),
    ("online_depth", "网办深度"),
    ("place_and_time", "办理地点和时间"),
    ("enquiry_phone", "咨询电话"),
    ("complaint_phone", "投诉电话"),
    ("change_note", "修改说明"),
]


def _material_line(view: ItemView) -> list[str]:
    return [
        f"{m.name}（原件 {m.originals}，复印件 {m.copies}，{'必需' if m.required else '非必需'}"
        f"{'，可容缺' if m.gap_allowed else ''}）"
        for m in view.materials
    ]


async def catalog_compare(request: Request) -> Response:
    current_user(request)
    params = request.query_params
    item_id = request.path_params["item_id"]
    async with get_db(request).session() as session:
        latest = await item_view(session, item_id)
        right_no = whole_number(params.get("b")) or latest.item.current_version
        left_no = whole_number(params.get("a")) or max(1, right_no - 1)
        left = await item_view(session, item_id, left_no)
        right = await item_view(session, item_id, right_no)
    rows = [
        (label, str(getattr(left.version, name)), str(getattr(right.version, name)))
        for name, label in COMPARED
    ]
    a_lines, b_lines = _material_line(left), _material_line(right)
    material_rows = [
        (a_lines[i] if i < len(a_lines) else "", b_lines[i] if i < len(b_lines) else "")
        for i in range(max(len(a_lines), len(b_lines)))
    ]
    return render(
        request,
        "catalog/compare.html",
        CatalogComparePage(latest.item, left, right, rows, material_rows),
    )


async def catalog_set_status(request: Request) -> Response:
    user = current_user(request)
    settings = get_settings(request)
    require_catalogue_editor(user, settings)
    active = (await request.form()).get("status") == "active"
    async with get_db(request).session() as session:
        view = await item_view(session, request.path_params["item_id"])
        await do_set_item_status(
            session=session, settings=settings, actor=user, item=view.item, active=active
        )
    flash(
        request,
        f"事项“{view.version.name}”已{'恢复' if active else '停用'}。"
        + ("" if active else "已受理的办件不受影响。"),
    )
    return RedirectResponse(f"/catalog/{view.item.id}", status_code=303)


async def _claims_page(
    request: Request,
    claimed: set[int] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    user = current_user(request)
    async with get_db(request).session() as session:
        page = await search_items(session, ItemFilters(), size=10_000)
        if claimed is None:
            claimed = await claimed_item_ids(session, user.org_unit_code)
    context = CatalogClaimsPage(page.items, claimed, CHOICES, errors or {})
    return render(request, "catalog/claims.html", context, status_code=status_code)


async def catalog_claims(request: Request) -> Response:
    require_centre_admin(current_user(request))
    return await _claims_page(request)


async def catalog_claims_update(request: Request) -> Response:
    user = current_user(request)
    require_centre_admin(user)
    form = await request.form()
    chosen = {n for v in form.getlist("item") if (n := whole_number(v)) is not None}
    async with get_db(request).session() as session:
        try:
            await do_set_claims(session=session, actor=user, item_ids=chosen)
        except ValidationFailed as failed:
            return await _claims_page(request, chosen, failed.errors, 422)
    flash(request, f"已保存：本中心办理 {len(chosen)} 个事项。")
    return RedirectResponse("/catalog?mine=1", status_code=303)
