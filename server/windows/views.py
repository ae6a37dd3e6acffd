"""The pages for a centre's windows and their A and B posts."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.access import MANAGE_WINDOWS, VIEW_WINDOWS, current_user, require_role
from server.auth.models import User
from server.context import client_ip, flash, get_db
from server.forms import ValidationFailed, form_values, parse_int, whole_number
from server.templating import render
from server.windows.access import access_window_by_id
from server.windows.actions import WindowFields, do_create_window, do_update_window
from server.windows.models import Window
from server.windows.queries import window_staff, windows_of_unit

FIELDS = ("number", "name", "is_general", "post_a_id", "post_b_id", "active")


@dataclass
class WindowListPage:
    windows: list[Window]
    staff: dict[int, str]
    can_manage: bool


@dataclass
class WindowFormPage:
    values: dict[str, str]
    errors: dict[str, str]
    staff: list[tuple[str, str]]  # (user id, name): who may hold a post
    target: Window | None
    can_manage: bool


def _parse(values: dict[str, str]) -> WindowFields:
    errors: dict[str, str] = {}
    number = 0
    try:
        number = parse_int(values["number"], field="number", label="窗口编号", low=1, high=999)
    except ValidationFailed as failed:
        errors |= failed.errors
    posts: dict[str, int | None] = {}
    for name in ("post_a_id", "post_b_id"):
        raw = values[name]
        posts[name] = whole_number(raw)
        if raw and posts[name] is None:
            errors[name] = "请从列表中选择人员"
    if errors:
        raise ValidationFailed(errors)
    return WindowFields(
        number=number,
        name=values["name"],
        is_general=values["is_general"] == "on",
        post_a_id=posts["post_a_id"],
        post_b_id=posts["post_b_id"],
        active=values["active"] == "on",
    )


async def _form_page(
    request: Request,
    actor: User,
    values: dict[str, str],
    errors: dict[str, str],
    target: Window | None,
    status_code: int = 200,
) -> Response:
    async with get_db(request).session() as session:
        staff = [
            (str(u.id), u.display_name) for u in await window_staff(session, actor.org_unit_code)
        ]
    page = WindowFormPage(values, errors, staff, target, actor.role in MANAGE_WINDOWS)
    return render(request, "windows/form.html", page, status_code=status_code)


async def window_list(request: Request) -> Response:
    actor = current_user(request)
    require_role(actor, VIEW_WINDOWS)
    async with get_db(request).session() as session:
        windows = await windows_of_unit(session, actor.org_unit_code)
        staff = {
            u.id: u.display_name
            for u in await window_staff(session, actor.org_unit_code)
            if u.id is not None
        }
    page = WindowListPage(windows, staff, actor.role in MANAGE_WINDOWS)
    return render(request, "windows/list.html", page)


async def window_new(request: Request) -> Response:
    actor = current_user(request)
    require_role(actor, MANAGE_WINDOWS)
    async with get_db(request).session() as session:
        taken = [w.number for w in await windows_of_unit(session, actor.org_unit_code)]
    values = dict.fromkeys(FIELDS, "") | {"number": str(max(taken, default=0) + 1), "active": "on"}
    return await _form_page(request, actor, values, {}, None)


async def window_create(request: Request) -> Response:
    actor = current_user(request)
    require_role(actor, MANAGE_WINDOWS)
    values = form_values(await request.form(), *FIELDS)
    async with get_db(request).session() as session:
        try:
            window = await do_create_window(
                session=session,
                actor=actor,
                org_unit_code=actor.org_unit_code,
                fields=_parse(values),
                ip=client_ip(request),
            )
        except ValidationFailed as failed:
            return await _form_page(request, actor, values, failed.errors, None, 422)
    flash(request, f"已新增 {window.number} 号窗口“{window.name}”。")
    return RedirectResponse("/admin/windows", status_code=303)


async def window_show(request: Request) -> Response:
    actor = current_user(request)
    async with get_db(request).session() as session:
        window = await access_window_by_id(session, actor, request.path_params["window_id"])
    values = {
        "number": str(window.number),
        "name": window.name,
        "is_general": "on" if window.is_general else "",
        "post_a_id": str(window.post_a_id or ""),
        "post_b_id": str(window.post_b_id or ""),
        "active": "on" if window.active else "",
    }
    return await _form_page(request, actor, values, {}, window)


async def window_update(request: Request) -> Response:
    actor = current_user(request)
    require_role(actor, MANAGE_WINDOWS)
    values = form_values(await request.form(), *FIELDS)
    async with get_db(request).session() as session:
        window = await access_window_by_id(session, actor, request.path_params["window_id"])
        try:
            await do_update_window(
                session=session,
                actor=actor,
                window=window,
                fields=_parse(values),
                ip=client_ip(request),
            )
        except ValidationFailed as failed:
            return await _form_page(request, actor, values, failed.errors, window, 422)
    flash(request, f"已保存 {window.number} 号窗口。")
    return RedirectResponse("/admin/windows", status_code=303)
