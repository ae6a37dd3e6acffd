"""POST /api/sync/up and /api/sync/down: a child node's sealed push and pull (docs/sync.md).

Request and answer bodies are sealed envelopes (application/octet-stream). No session or token
counts here: the envelope's sender key is the only identity, so a village agent's (or anyone's)
login cannot call these. A refusal is 4xx with JSON {reason, detail} and a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response, post
from sqlmodel.ext.asyncio.session import AsyncSession

from server.crypto.fields import FieldCipher
from server.db import Database
from server.nodes.keys import Keyring, node_keys
from server.relay.chunks import serve_chunk, serve_fetch, serve_have
from server.relay.service import MAX_ENVELOPE, SyncRefused, serve_down, serve_up
from server.settings import Settings

log = logging.getLogger("yichuang.sync")
ENVELOPE = "application/octet-stream"
Serve = Callable[[AsyncSession, FieldCipher, Keyring, bytes], Awaitable[bytes]]


async def _handle(request: Request[Any, Any, Any], serve: Serve) -> Response[Any]:
    settings: Settings = request.app.state.settings
    db: Database = request.app.state.db
    client = (request.client.host if request.client else "") or "-"
    if settings.role != "county":
        return _refused(404, "not_a_parent", "本节点不接收下级节点的同步。", client)
    data = await request.body()
    if len(data) > MAX_ENVELOPE:
        return _refused(413, "too_large", "数据包超过大小上限。", client)
    try:
        async with db.session() as session:
            answer = await serve(session, request.app.state.cipher, node_keys(settings), data)
    except SyncRefused as refused:
        return _refused(refused.status, refused.reason, refused.detail, client, str(refused))
    return Response(answer, media_type=ENVELOPE, status_code=200)


def _refused(status: int, reason: str, detail: str, client: str, extra: str = "") -> Response[Any]:
    log.warning("sync refused reason=%s client=%s %s", reason, client, extra)
    return Response({"reason": reason, "detail": detail}, status_code=status)


@post("/sync/up", summary="下级节点推送事件（密封数据包）", tags=["sync"], status_code=200)
async def sync_up(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _handle(request, serve_up)


@post("/sync/down", summary="下级节点拉取下发的事件（密封数据包）", tags=["sync"], status_code=200)
async def sync_down(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _handle(request, serve_down)


@post(
    "/sync/chunks",
    summary="下级节点上传扫描件的一块（密封数据包）",
    tags=["sync"],
    status_code=200,
)
async def sync_chunk(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _handle(request, serve_chunk)


@post(
    "/sync/chunks/have",
    summary="下级节点查询上级尚缺哪些扫描件块（密封数据包）",
    tags=["sync"],
    status_code=200,
)
async def sync_chunks_have(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _handle(request, serve_have)


@post(
    "/sync/chunks/fetch",
    summary="下级节点下载所辖办件扫描件的一块（密封数据包）",
    tags=["sync"],
    status_code=200,
)
async def sync_chunks_fetch(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _handle(request, serve_fetch)


HANDLERS = [sync_up, sync_down, sync_chunk, sync_chunks_have, sync_chunks_fetch]
