"""The admin's pages for the accounts of their centre."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.access import MANAGE_USERS, current_user, require_role
from server.auth.models import ROLE_NAMES, User
from server.context import client_ip, flash, get_cipher, get_db
from server.forms import ValidationFailed, form_values, whole_number
from server.org.models import OrgUnit
from server.org.queries import unit_names, units_within
from server.templating import render
from server.users.access import access_user_by_id
from server.users.actions import (
    UserFields,
    do_create_user,
    do_reset_password,
    do_update_user,
    temporary_password,
    user_phone,
)
from server.users.queries import Page, search_users

FIELDS = ("username", "display_name", "phone", "role", "org_unit_code")


@dataclass
class UserListPage:
    page: Page[User]
    text: str
    role: str
    roles: dict[str, str]
    units: dict[str, str]


@dataclass
class UserFormPage:
    values: dict[str, str]
    errors: dict[str, str]
    roles: dict[str, str]
    units: list[OrgUnit]
    target: User | None = None


@dataclass
class PasswordIssuedPage:
    target: User
    password: str
    created: bool = False


@dataclass
class UserFormState:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _fields(values: dict[str, str], active: bool) -> UserFields:
    return UserFields(
        username=values["username"],
        display_name=values["display_name"],
        phone=values["phone"],
        role=values["role"],
        org_unit_code=values["org_unit_code"],
        active=active,
    )


async def _form_page(
    request: Request,
    actor: User,
    state: UserFormState,
    target: User | None = None,
    status_code: int = 200,
) -> Response:
    async with get_db(request).session() as session:
        units = await units_within(session, actor.org_unit_code)
    page = UserFormPage(state.values, state.errors, ROLE_NAMES, units, target)
    return render(request, "users/form.html", page, status_code=status_code)


async def user_list(request: Request) -> Response:
    actor = current_user(request)
    require_role(actor, MANAGE_USERS)
    params = request.query_params
    text, role = params.get("q", "").strip(), params.get("role", "")
    number = whole_number(params.get("page")) or 1
    async with get_db(request).session() as session:
        page = await search_users(
            session,
            get_cipher(request),
            root=actor.org_unit_code,
            text=text,
            role=role if role in ROLE_NAMES else "",
            page=number,
        )
        names = await unit_names(session)
    context = UserListPage(page, text, role, ROLE_NAMES, names)
    return render(request, "users/list.html", context, block="results")


async def user_new(request: Request) -> Response:
    actor = current_user(request)
    require_role(actor, MANAGE_USERS)
    values = dict.fromkeys(FIELDS, "") | {"org_unit_code": actor.org_unit_code, "active": "on"}
    return await _form_page(request, actor, UserFormState(values))


async def user_create(request: Request) -> Response:
    actor = current_user(request)
    require_role(actor, MANAGE_USERS)
    values = form_values(await request.form(), *FIELDS)
    password = temporary_password()
    async with get_db(request).session() as session:
        try:
            user = await do_create_user(
                session=session,
                cipher=get_cipher(request),
                actor=actor,
                fields=_fields(values, True),
                password=password,
                ip=client_ip(request),
            )
        except ValidationFailed as failed:
            return await _form_page(
                request, actor, UserFormState(values, failed.errors), status_code=422
            )
    return render(request, "users/password.html", PasswordIssuedPage(user, password, True))


async def user_show(request: Request) -> Response:
    actor = current_user(request)
    async with get_db(request).session() as session:
        target = await access_user_by_id(session, actor, request.path_params["user_id"])
    values = {
        "username": target.username,
        "display_name": target.display_name,
        "phone": user_phone(get_cipher(request), target),
        "role": target.role,
        "org_unit_code": target.org_unit_code,
        "active": "on" if target.active else "",
    }
    return await _form_page(request, actor, UserFormState(values), target)


async def user_update(request: Request) -> Response:
    actor = current_user(request)
    form = await request.form()
    values = form_values(form, *FIELDS, "active")
    async with get_db(request).session() as session:
        target = await access_user_by_id(session, actor, request.path_params["user_id"])
        try:
            await do_update_user(
                session=session,
                cipher=get_cipher(request),
                actor=actor,
                user=target,
                fields=_fields(values, values["active"] == "on"),
                ip=client_ip(request),
            )
        except ValidationFailed as failed:
            return await _form_page(
                request, actor, UserFormState(values, failed.errors), target, status_code=422
            )
    flash(request, f"已保存用户 {target.display_name} 的资料。")
    return RedirectResponse("/admin/users", status_code=303)


async def user_reset_password(request: Request) -> Response:
    actor = current_user(request)
    async with get_db(request).session() as session:
        target = await access_user_by_id(session, actor, request.path_params["user_id"])
        password = await do_reset_password(
            session=session, actor=actor, user=target, ip=client_ip(request)
        )
    return render(request, "users/password.html", PasswordIssuedPage(target, password))
