"""Window authorisation (窗口授权): which claimed items a window accepts, decides, delivers."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.access import current_user
from server.catalog.actions import Authorisation, do_set_window_items, require_centre_admin
from server.catalog.models import HANDLING_KINDS, CatalogItem, CatalogItemVersion, WindowItem
from server.catalog.queries import ItemFilters, claimed_item_ids, search_items, window_grants
from server.context import flash, get_db
from server.forms import ValidationFailed, whole_number
from server.templating import render
from server.windows.access import access_window_by_id
from server.windows.models import Window

POWERS = (("can_accept", "受理"), ("can_decide", "办理（决定）"), ("can_deliver", "送达"))


@dataclass
class WindowItemsPage:
    window: Window
    items: list[tuple[CatalogItem, CatalogItemVersion]]
    grants: dict[int, WindowItem]
    powers: tuple[tuple[str, str], ...]
    kinds: dict[str, str]
    can_manage: bool
    errors: dict[str, str] = field(default_factory=dict)


async def _page(
    request: Request, errors: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    user = current_user(request)
    async with get_db(request).session() as session:
        window = await access_window_by_id(session, user, request.path_params["window_id"])
        claimed = await claimed_item_ids(session, window.org_unit_code)
        page = await search_items(session, ItemFilters(), size=10_000, only_ids=claimed)
        grants = await window_grants(session, window.id or 0)
    context = WindowItemsPage(
        window, page.items, grants, POWERS, HANDLING_KINDS, user.role == "admin", errors or {}
    )
    return render(request, "windows/items.html", context, status_code=status_code)


async def window_items(request: Request) -> Response:
    return await _page(request)


async def window_items_update(request: Request) -> Response:
    user = current_user(request)
    require_centre_admin(user)
    form = await request.form()
    ids = {n for v in form.getlist("item") if (n := whole_number(v)) is not None}
    grants = [
        Authorisation(
            item_id=item_id,
            **{name: form.get(f"{name}-{item_id}") == "on" for name, _label in POWERS},
        )
        for item_id in sorted(ids)
    ]
    async with get_db(request).session() as session:
        window = await access_window_by_id(session, user, request.path_params["window_id"])
        try:
            await do_set_window_items(session=session, actor=user, window=window, grants=grants)
        except ValidationFailed as failed:
            return await _page(request, failed.errors, 422)
    flash(request, f"已保存 {window.number} 号窗口的事项授权。")
    return RedirectResponse(f"/admin/windows/{window.id}/items", status_code=303)
