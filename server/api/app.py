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
from server.agent import api as agent_api
from server.agent import uploads as agent_uploads
from server.api import cases, catalog, health, me, nodes, notifications, sync
from server.auth.access import PasswordChangeRequired, SignInRequired
from server.cases.machine import TransitionRefused
from server.crypto.fields import FieldCipher
from server.db import Database
from server.forms import ValidationFailed
from server.notify.push import PushConfig
from server.settings import Settings

DETAILS = {
    400: "请求格式不对：请求体须是有效的 JSON，字段须与接口文档（/api/schema）一致",
    401: "请先登录",
    403: "没有权限",
    404: "没有这个接口或记录",
    405: "这个接口不支持这种请求方法",
    413: "请求体太大，超过了接口的大小上限",
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


# Litestar's (msgspec's or pydantic's) English messages, by a telling part, in Chinese.
TYPE_MESSAGES = (
    (("Field required", "Missing required", "missing"), "必填，请提供"),
    (("valid integer", "`int`"), "须是整数"),
    (("valid string", "`str`"), "须是文字（字符串）"),
    (("valid boolean", "`bool`"), "须是 true 或 false"),
    (("valid list", "`array`"), "须是列表（数组）"),
    (("valid dictionary", "`object`", "model"), "须是对象"),
    (("date",), "须是日期，格式 YYYY-MM-DD"),
)


def field_message(message: str) -> str:
    """A Chinese message for one of the validator's English ones."""
    for parts, chinese in TYPE_MESSAGES:
        if any(part in message for part in parts):
            return chinese
    return "格式不对，请对照接口文档（/api/schema）"


def _on_validation_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Wrong types or missing fields: 422 like the actions' own refusals, by field, in Chinese."""
    extra = exc.extra if isinstance(exc, ValidationException) else None
    errors: dict[str, str] = {}
    for entry in extra if isinstance(extra, list) else []:
        if isinstance(entry, dict):
            key = str(entry.get("key") or "body")
            errors.setdefault(key, field_message(str(entry.get("message", ""))))
    if not errors:
        return _problem(400, DETAILS[400])
    detail = "；".join(f"{key}：{message}" for key, message in errors.items())
    return _problem(422, detail, {"errors": errors})


def _on_too_deep(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """JSON nested past the parser's recursion limit (msgspec raises RecursionError, which
    Litestar does not turn into its 400): the same answer as any body that is not JSON."""
    return _problem(400, DETAILS[400])


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


def create_api(*, settings: Settings, db: Database, push: PushConfig) -> Litestar:
    return Litestar(
        state=State(
            {
                "settings": settings,
                "db": db,
                "cipher": FieldCipher(settings.data_key),
                "push": push,  # node.toml's [push]: the push services subscriptions may name
            }
        ),
        route_handlers=[
            health.health,
            me.me,
            catalog.catalog,
            *cases.HANDLERS,
            *sync.HANDLERS,
            *nodes.HANDLERS,
            *notifications.HANDLERS,
            *agent_api.HANDLERS,
            *agent_uploads.HANDLERS,
        ],
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
            RecursionError: _on_too_deep,
            SignInRequired: lambda request, exc: _problem(401, "请先登录"),
            PasswordChangeRequired: lambda request, exc: _problem(403, "请先在网页上修改临时密码"),
            500: _on_http_error,
        },
    )
