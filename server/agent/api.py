"""The village agent's phone and the township's JSON API: enrolment and the sealed sync.

POST /api/agent/devices: the phone, signed in as the agent (session cookie and the page's CSRF
token), presents a clerk's one-time code with the public halves of the keys it made, and
receives the township's public keys. POST /api/agent/sync: a sealed envelope from an enrolled
device (server/agent/sync.py); no session counts there, the device's signature is the identity,
so an outbox flushed by the service worker long after the session ended still goes through.
GET /api/agent/notifications/unread: what the worker asks on every sync, signed by the device
(server/agent/device_auth.py) or with the session: a count, an id and a link, nothing personal.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from litestar import Request, Response, get, post
from litestar.params import JSONBody
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from server.agent.device_auth import agent_guard, device_agent
from server.agent.devices import DeviceRefused, do_enrol_device
from server.agent.sync import MAX_ENVELOPE, AgentSyncRefused, serve_agent_sync
from server.api.catalog import build_catalogue
from server.api.nodes import PublicKeysJson
from server.auth.access import Forbidden, NotFound, current_user
from server.auth.ratelimit import locked_minutes, record_failure, throttle_keys
from server.crypto.fields import FieldCipher
from server.db import Database
from server.forms import ValidationFailed
from server.nodes.keys import node_keys
from server.notify.actions import unread_count
from server.notify.queries import newest_unread
from server.settings import Settings
from sync.keys import PublicKeys

log = logging.getLogger("yichuang.agent")
ENVELOPE = "application/octet-stream"


class DeviceEnrolRequest(BaseModel):
    """村代办员在手机上登记本机：乡镇给出的一次性登记码、手机名称、手机生成的公钥。"""

    code: str = Field(description="登记码，16 位，每 4 位一组")
    name: str = Field(description="手机名称，例如“张三的红米手机”，不超过 60 个字")
    keys: PublicKeysJson


class DeviceEnrolAnswer(BaseModel):
    """登记好的设备编号，以及乡镇的区划代码、名称和公钥（手机固定下来，用来加密发送）。"""

    key_id: str = Field(description="设备的密钥编号（十六进制）")
    name: str
    region_code: str
    township: str
    keys: PublicKeysJson


def _township(request: Request[Any, Any, Any]) -> tuple[Settings, Database]:
    state = request.app.state
    settings, db = cast(Settings, state.settings), cast(Database, state.db)
    if settings.role != "township":
        raise NotFound("村代办员的手机只在乡镇节点上登记和同步")
    return settings, db


@post(
    "/agent/devices",
    summary="村代办员登记本机（一次性登记码）",
    description="乡镇节点上可用，须以该村代办员的账号登录（带 X-CSRF-Token）。登记码 1 小时内有效、"
    "只能用一次，且只能给开码时选定的村代办员用。403：登记码不对、已过期、已用过或不是发给本账号的；"
    "422：字段有误；429：尝试太多次。",
    tags=["agent"],
    status_code=200,
)
async def agent_device_enrol(
    request: Request[Any, Any, Any], data: JSONBody[DeviceEnrolRequest]
) -> DeviceEnrolAnswer:
    settings, db = _township(request)
    user = current_user(request)
    try:
        keys = PublicKeys.from_json(data.keys.model_dump(exclude_none=True))
    except ValueError:
        raise ValidationFailed(
            {"keys": "公钥无效：须是 P-256 公钥（SEC1 非压缩点，base64url）"}
        ) from None
    address = request.client.host if request.client else ""
    cipher = cast(FieldCipher, request.app.state.cipher)
    throttle = throttle_keys(cipher, f"device:{user.id}", address, scope="enrol")
    async with db.session() as session:
        if minutes := await locked_minutes(session, throttle):
            raise HTTPException(429, f"登记码尝试次数太多，请 {minutes} 分钟后再试")
        try:
            device = await do_enrol_device(
                session=session, user=user, code=data.code, name=data.name, keys=keys, ip=address
            )
        except DeviceRefused as refused:
            await session.rollback()
            await record_failure(session, throttle)
            raise Forbidden(refused.message) from None
    mine = node_keys(request).current.public().to_json()
    return DeviceEnrolAnswer(
        key_id=device.key_id,
        name=device.name,
        region_code=settings.region_code,
        township=settings.name,
        keys=PublicKeysJson(**mine),
    )


@post(
    "/agent/sync",
    summary="村代办员手机同步（密封数据包）",
    description="请求和应答都是密封数据包（application/octet-stream）：请求由已登记、未吊销的手机签名，"
    "载荷为 agent_sync（要发送的办件）；应答加密给这部手机，载荷为 agent_state（每个办件的结果、"
    "本人办件的状态、事项目录版本）。重复发送同一个办件不会重复登记。不需要登录。",
    tags=["agent"],
    status_code=200,
)
async def agent_sync(request: Request[Any, Any, Any]) -> Response[Any]:
    settings, db = _township(request)
    client = (request.client.host if request.client else "") or "-"
    data = await request.body()
    if len(data) > MAX_ENVELOPE:
        return _refused(413, "too_large", "数据包超过大小上限。", client)
    version = (await build_catalogue(db)).version
    try:
        async with db.session() as session:
            answer = await serve_agent_sync(
                session,
                request.app.state.cipher,
                settings,
                node_keys(request),
                data,
                version,
            )
    except AgentSyncRefused as refused:
        return _refused(refused.status, refused.reason, refused.detail, client, str(refused))
    return Response(answer, media_type=ENVELOPE, status_code=200)


def _refused(status: int, reason: str, detail: str, client: str, extra: str = "") -> Response[Any]:
    log.warning("agent sync refused reason=%s client=%s %s", reason, client, extra)
    return Response({"reason": reason, "detail": detail}, status_code=status)


class AgentUnread(BaseModel):
    """手机同步时查看的新消息：只有条数、最新一条未读消息的编号和相关页面，不含消息内容。"""

    unread: int = Field(description="未读消息数")
    newest: int = Field(description="最新一条未读消息的编号；没有未读消息时为 0")
    link: str = Field(description="最新一条未读消息相关页面的地址；没有时为 /notifications")


@get(
    "/agent/notifications/unread",
    summary="村代办员手机查看新消息",
    description="手机每次同步时由后台程序调用，有新消息时弹出系统通知。已登记的手机用本机签名"
    "（Authorization: YC-Device …），登录已过期也能查看；也可以用村代办员的登录。",
    tags=["agent"],
    guards=[agent_guard("只有村代办员的手机查看这个消息数")],
)
async def agent_unread(request: Request[Any, Any, Any]) -> AgentUnread:
    agent = device_agent(request)
    async with cast(Database, request.app.state.db).session() as session:
        count = await unread_count(session, agent.uid)
        newest = await newest_unread(session, agent.uid)
    return AgentUnread(
        unread=count,
        newest=(newest.id or 0) if newest else 0,
        link=newest.link if newest else "/notifications",
    )


HANDLERS = [agent_device_enrol, agent_sync, agent_unread]
