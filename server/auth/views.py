"""Sign in, sign out, change one's own password."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.access import current_user
from server.auth.actions import do_sign_in
from server.auth.sessions import begin
from server.context import client_ip, flash, get_cipher, get_db, safe_next
from server.forms import ValidationFailed, form_values
from server.notify.catalogue import do_notify_catalogue_on_sign_in
from server.templating import render
from server.users.actions import do_change_password


@dataclass
class SigninPage:
    login: str = ""
    next: str = "/"
    error: str = ""
    notice: str = ""


@dataclass
class PasswordPage:
    errors: dict[str, str] = field(default_factory=dict)
    forced: bool = False


def start_session(request: Request, user_id: int, epoch: int) -> None:
    """A fresh session for a signed-in user: new CSRF token, nothing carried over."""
    begin(request.session, user_id, epoch)


async def signin_form(request: Request) -> Response:
    target = safe_next(request.query_params.get("next"))
    if request.scope.get("user") is not None:
        return RedirectResponse(target, status_code=303)
    notice = "您已安全退出。" if request.query_params.get("bye") else ""
    if request.query_params.get("ended"):
        notice = "长时间未操作或登录已超过 12 小时，为保护群众信息已自动退出，请重新登录。"
    return render(request, "auth/signin.html", SigninPage(next=target, notice=notice))


async def signin_submit(request: Request) -> Response:
    form = await request.form()
    values = form_values(form, "login", "password", "next")
    target = safe_next(values["next"])
    async with get_db(request).session() as session:
        outcome = await do_sign_in(
            session=session,
            cipher=get_cipher(request),
            login=values["login"],
            password=str(form.get("password", "")),
            address=client_ip(request),
        )
    if outcome.user is None:
        page = SigninPage(login=values["login"], next=target, error=outcome.error)
        return render(request, "auth/signin.html", page, status_code=422)
    start_session(request, outcome.user.uid, outcome.user.session_epoch)
    async with get_db(request).session() as session:  # new catalogue versions: told once
        await do_notify_catalogue_on_sign_in(session, user=outcome.user)
    if outcome.user.must_change_password:
        return RedirectResponse("/account/password", status_code=303)
    return RedirectResponse(target, status_code=303)


async def signout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/signin?bye=1", status_code=303)


async def password_form(request: Request) -> Response:
    user = current_user(request)
    return render(request, "auth/password.html", PasswordPage(forced=user.must_change_password))


async def password_change(request: Request) -> Response:
    user = current_user(request)
    form = await request.form()
    values = {name: str(form.get(name, "")) for name in ("current", "new", "confirm")}
    async with get_db(request).session() as session:
        try:
            user = await do_change_password(
                session=session, user=user, ip=client_ip(request), **values
            )
        except ValidationFailed as failed:
            page = PasswordPage(errors=failed.errors, forced=user.must_change_password)
            return render(request, "auth/password.html", page, status_code=422)
    start_session(request, user.uid, user.session_epoch)
    flash(request, "密码已修改。其他设备上的登录已失效。")
    return RedirectResponse("/", status_code=303)
