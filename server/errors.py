"""Error pages in Chinese: what happened and what to do. Never a stack trace."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from server.auth.access import PasswordChangeRequired, SignInRequired
from server.templating import render

log = logging.getLogger("yichuang.error")


@dataclass
class ErrorPage:
    title: str
    detail: str
    status: int


TITLES = {
    400: "请求有误",
    403: "没有权限",
    404: "页面不存在",
    405: "不支持这个操作",
    413: "提交的内容太大",
    422: "填写有误",
    429: "操作太频繁",
    500: "系统出错了",
}
DEFAULT_DETAILS = {
    403: "您没有权限访问这个页面。如需开通，请联系本中心的管理员。",
    404: "您要找的页面不存在，可能是地址输错了，或者记录已被删除。",
    405: "这个地址不支持这样的操作，请从页面上的按钮进入。",
    500: "系统暂时出了问题，您刚才的操作可能没有完成。请稍后再试；如果一直这样，请联系管理员。",
}
CSRF_DETAILS = {
    "token": "页面已过期或来源不明，为了安全没有提交。请返回上一页，刷新后再提交一次。",
    "origin": "这个请求来自其他网站，为了安全已被拒绝。",
    "too_large": "提交的内容超过了 25 MB，请缩小附件后再试。",
    "malformed": "提交的表单格式有误，没有保存。请刷新页面后再提交一次。",
}
# Where "make it smaller" is the wrong advice for a body over the form limit.
TOO_LARGE_BY_PATH = {
    "/admin/sync/bundle": "数据包超过 25 MB，不能在网页上导入。请把文件拷到服务器上，"
    "用命令 yichuang bundle import 文件名 导入。",
}


def error_page(request: Request, status: int, detail: str | None = None) -> Response:
    detail = detail or DEFAULT_DETAILS.get(status, "请返回上一页重试。")
    if request.url.path.startswith("/api/"):
        return JSONResponse({"status_code": status, "detail": detail}, status_code=status)
    page = ErrorPage(title=TITLES.get(status, "出错了"), detail=detail, status=status)
    return render(request, "errors/error.html", page, status_code=status)


async def http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        return await server_error(request, exc)
    detail = exc.detail if exc.detail and not exc.detail.isascii() else None
    return error_page(request, exc.status_code, detail)


async def sign_in_required(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"status_code": 401, "detail": "请先登录"}, status_code=401)
    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    ended = "&ended=1" if request.scope.get("session_ended") else ""
    response = RedirectResponse(f"/signin?next={target}{ended}", status_code=303)
    if request.headers.get("HX-Request") == "true":
        response.headers["HX-Redirect"] = f"/signin?next={target}{ended}"
    return response


async def password_change_required(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/account/password", status_code=303)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_page(request, 500)


async def csrf_rejected(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    reason = scope.get("csrf_failure", "token")
    status = {"too_large": 413, "malformed": 400}.get(reason, 403)
    log.warning("request refused (%s) on %s %s", reason, request.method, request.url.path)
    detail = CSRF_DETAILS[reason]
    if reason == "too_large":
        detail = TOO_LARGE_BY_PATH.get(request.url.path, detail)
    response = error_page(request, status, detail)
    await response(scope, receive, send)


EXCEPTION_HANDLERS = {
    HTTPException: http_exception,
    SignInRequired: sign_in_required,
    PasswordChangeRequired: password_change_required,
    Exception: server_error,
}
