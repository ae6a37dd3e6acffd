"""The typed JSON API: a Litestar app mounted at /api inside the Starlette app.

It shares the pages' identity (the same middleware puts the user in the scope, from the
session cookie or a bearer token) and the same access functions and actions, so nothing
is written twice. Its OpenAPI document at /api/schema is the contract for machine clients.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Server
from litestar.plugins.pydantic import PydanticPlugin
from starlette.exceptions import HTTPException as StarletteHTTPException

import server
from server.api import cases, catalog, health, me
from server.auth.access import PasswordChangeRequired, SignInRequired
from server.cases.machine import TransitionRefused
from server.crypto.fields import FieldCipher
from server.db import Database
from server.forms import ValidationFailed
from server.settings import Settings

DETAILS = {
    400: "请求格式不对",
    401: "请先登录",
    403: "没有权限",
    404: "没有这个接口或记录",
    405: "这个接口不支持这种请求方法",
    429: "请求太频繁，请稍后再试",
    500: "系统出错了，请稍后再试",
}


def _problem(status: int, detail: str, extra: dict[str, Any] | None = None) -> Response[Any]:
    body: dict[str, Any] = {"status_code": status, "detail": detail}
    if extra:
        body.update(extra)
    return Response(body, status_code=status)


def _on_http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else ""
    if not detail or detail.isascii():  # Litestar's own English texts are not for our users
        detail = DETAILS.get(status, "请求失败")
    return _problem(status, detail)


def _on_validation_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    extra = exc.extra if isinstance(exc, ValidationException) else None
    return _problem(400, "提交的数据有误，请按 errors 中的说明修改", {"errors": extra or []})


def _on_access_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """NotFound and Forbidden (server.auth.access) are Starlette's: their Chinese detail stays."""
    if not isinstance(exc, StarletteHTTPException):
        return _problem(500, DETAILS[500])
    detail = exc.detail if exc.detail and not exc.detail.isascii() else ""
    return _problem(exc.status_code, detail or DETAILS.get(exc.status_code, "请求失败"))


def _on_refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The state machine said no (a case's state, a guard): 409 with its Chinese reason."""
    return _problem(409, exc.message if isinstance(exc, TransitionRefused) else "现在不能这样办理")


def _on_invalid(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """An action refused the data: 422, every field's message in `errors`."""
    errors = exc.errors if isinstance(exc, ValidationFailed) else {}
    detail = "；".join(errors.values()) or "提交的数据有误"
    return _problem(422, detail, {"errors": errors})


def create_api(*, settings: Settings, db: Database) -> Litestar:
    return Litestar(
        state=State({"settings": settings, "db": db, "cipher": FieldCipher(settings.data_key)}),
        route_handlers=[health.health, me.me, catalog.catalog, *cases.HANDLERS],
        plugins=[PydanticPlugin(prefer_alias=True)],
        logging_config=None,  # the process configures logging once (server/cli.py)
        openapi_config=OpenAPIConfig(
            title="一窗 Yichuang API",
            version=server.__version__,
            servers=[Server(url="/api")],
            path="/schema",
            render_plugins=[JsonRenderPlugin(path="/")],
        ),
        exception_handlers={
            ValidationException: _on_validation_error,
            HTTPException: _on_http_error,
            StarletteHTTPException: _on_access_error,
            TransitionRefused: _on_refused,
            ValidationFailed: _on_invalid,
            SignInRequired: lambda request, exc: _problem(401, "请先登录"),
            PasswordChangeRequired: lambda request, exc: _problem(403, "请先在网页上修改临时密码"),
            500: _on_http_error,
        },
    )
