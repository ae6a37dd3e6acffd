"""The notification centre for scripts and the service worker, and Web Push subscriptions.

GET /api/notifications/count is what a page polls when server-sent events fail; GET
/api/notifications is what the service worker fetches on every sync. The push endpoints tie a
browser's subscription to the signed-in user; like every unsafe request from a browser they
need the session's CSRF token (the `X-CSRF-Token` header). An endpoint outside node.toml's
`[push] hosts` (read at start-up into the app's state) is refused with 422 under `endpoint`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, cast

from litestar import Request, delete, get, post
from litestar.params import JSONBody, QueryParameter
from pydantic import BaseModel, Field

from server.auth.access import NotFound, current_user
from server.db import Database
from server.notify.models import KINDS
from server.notify.push import PushConfig, do_subscribe_push, do_unsubscribe_push
from server.notify.queries import notification_page, unread_count
from server.notify.vapid import ensure_vapid_key, public_key_b64
from server.settings import Settings


class UnreadCount(BaseModel):
    count: int = Field(description="未读消息数")


class NotificationOut(BaseModel):
    id: int
    kind: str = Field(description=f"类型：{'、'.join(f'{k} {v}' for k, v in KINDS.items())}")
    title: str
    text: str = Field(description="正文（只含办件流水号，不含个人信息）")
    link: str = Field(description="相关页面的地址，例如 /cases/{id}")
    created_at: str = Field(description="时间（UTC，ISO 8601）")
    read: bool


class NotificationList(BaseModel):
    unread: int
    page: int
    pages: int
    items: list[NotificationOut]


class PushKey(BaseModel):
    public_key: str = Field(description="VAPID 公钥（applicationServerKey，base64url）")


class SubscriptionKeys(BaseModel):
    p256dh: str = Field(description="浏览器的 P-256 公钥（base64url）")
    auth: str = Field(description="认证密钥（base64url）")


class SubscriptionIn(BaseModel):
    """浏览器 PushSubscription.toJSON() 的内容。"""

    endpoint: str = Field(
        description="推送服务地址：https，须属于 node.toml 的 [push] hosts（默认为各浏览器的）"
    )
    keys: SubscriptionKeys


class SubscriptionGone(BaseModel):
    endpoint: str


def _db(request: Request[Any, Any, Any]) -> Database:
    return cast(Database, request.app.state.db)


@lru_cache(maxsize=8)
def _public_key(data_dir: Path) -> str:
    return public_key_b64(ensure_vapid_key(data_dir))


@get("/notifications/count", summary="未读消息数", tags=["notifications"])
async def notifications_count(request: Request[Any, Any, Any]) -> UnreadCount:
    user = current_user(request)
    async with _db(request).session() as session:
        return UnreadCount(count=await unread_count(session, user.uid))


@get("/notifications", summary="我的消息", tags=["notifications"])
async def notifications_list(
    request: Request[Any, Any, Any],
    page: Annotated[int, QueryParameter(ge=1, description="页码，从 1 开始")] = 1,
) -> NotificationList:
    user = current_user(request)
    async with _db(request).session() as session:
        found = await notification_page(session, user.uid, page=page)
        unread = await unread_count(session, user.uid)
    return NotificationList(
        unread=unread,
        page=found.number,
        pages=found.pages,
        items=[
            NotificationOut(
                id=row.id or 0,
                kind=row.kind,
                title=row.title,
                text=row.text,
                link=row.link,
                created_at=row.created_at.isoformat(),
                read=row.read_at is not None,
            )
            for row in found.items
        ],
    )


@get("/push/key", summary="Web Push 公钥", tags=["push"])
async def push_key(request: Request[Any, Any, Any]) -> PushKey:
    current_user(request)
    settings = cast(Settings, request.app.state.settings)
    return PushKey(public_key=_public_key(settings.data_dir))


@post(
    "/push/subscriptions",
    summary="订阅推送",
    description=(
        "把本浏览器的推送订阅登记到当前用户名下（同一地址再次登记则更新）。"
        "推送地址不属于 node.toml 的 [push] hosts 时返回 422。"
    ),
    tags=["push"],
    status_code=201,
)
async def push_subscribe(
    request: Request[Any, Any, Any], data: JSONBody[SubscriptionIn]
) -> SubscriptionGone:
    user = current_user(request)
    push = cast(PushConfig, request.app.state.push)
    async with _db(request).session() as session:
        row = await do_subscribe_push(
            session,
            hosts=push.hosts,
            user_id=user.uid,
            endpoint=data.endpoint,
            p256dh=data.keys.p256dh,
            auth=data.keys.auth,
        )
    return SubscriptionGone(endpoint=row.endpoint)


@delete(
    "/push/subscriptions",
    summary="取消推送订阅",
    description="请求体给出 endpoint；只能取消自己的订阅，没有则 404。",
    tags=["push"],
    status_code=204,
)
async def push_unsubscribe(
    request: Request[Any, Any, Any], data: JSONBody[SubscriptionGone]
) -> None:
    user = current_user(request)
    async with _db(request).session() as session:
        if not await do_unsubscribe_push(session, user_id=user.uid, endpoint=data.endpoint):
            raise NotFound("没有这个推送订阅")


HANDLERS = [notifications_count, notifications_list, push_key, push_subscribe, push_unsubscribe]
