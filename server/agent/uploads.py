"""Photos from the village agent's phone, sent in chunks that resume where they stopped.

    GET  /api/agent/uploads[?draft_id=]          the agent's uploads, and the session's CSRF token
                                                 (the agent's pages are cached shells without one)
    POST /api/agent/uploads                      declare {draft_id, material, sha256, size,
                                                 media_type}; the answer names the upload and
                                                 the chunks the server still lacks
    GET  /api/agent/uploads/{upload_id}          the same answer again (after a cut)
    PUT  /api/agent/uploads/{upload_id}/chunks/{idx}   one chunk's plain bytes
    DELETE /api/agent/uploads/{upload_id}        the agent removed the photo on the phone before
                                                 the case was sent: it will not be attached, and
                                                 its file goes unless something else needs it

The bytes go to server/attachments/store.py, which seals every chunk at rest, refuses a chunk
of the wrong length or a first chunk that is not the declared type (by its magic bytes), and
hashes the whole file when the last chunk arrives: a file that is not its declared SHA-256
loses its chunks and is refused here (422), so the phone starts it again. Declaring is
idempotent (one row per agent, draft, material and hash) and so is every PUT, so a phone that
lost the answer simply asks again. The phone's draft has no case on the server yet: the
outbox flush links its finished uploads to the case it creates (server/agent/upload_links.py).

What waits for a case is bounded (server/agent/upload_limits.py): an agent's uploads no case
has linked may declare `UNSENT_QUOTA_BYTES` (200 MB) in all, beyond which a declaration is a
422 under `size` (re-declaring an upload that exists always answers); and an unlinked upload
untouched for `STALE_AFTER` (30 days; declaring it again or storing a chunk touches it) is
removed by the job loop, with its file's chunks when no other upload, case or held event needs
that file, as a withdrawn one is at once. The phone declares a case's photos again around
sending it, so a removed one goes up again; the answer's `linked` says whether the case made
from the draft has the photo yet. A request that meets the clean-up removing its upload is the
same 404 ("可能已被清理"), so the phone declares the photo again; a sync linking the draft's
photos skips it, and the phone sends the case once more after it went up again.

Only a village agent may upload, and only to their own uploads: another's upload id is the
same 404 as none. The agent is known by the session (with the `X-CSRF-Token` header), or by
the phone's signature with its enrolled device key (server/agent/device_auth.py), so that
photos still go up when the session ended while the agent worked offline for days; every
request here is idempotent, so a replayed one changes nothing. A file the server holds
already (the same photo declared again) is complete at once; knowing a file's SHA-256 stands
for having it, since hashes are shown only to those who may see the file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import secrets
from typing import Annotated, Any, cast

from litestar import Request, delete, get, post, put
from litestar.params import JSONBody, PathParameter, QueryParameter
from pydantic import BaseModel, Field
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException

from server.agent.device_auth import agent_guard, device_agent
from server.agent.upload_limits import UNSENT_QUOTA_MB, lock_agent, quota_problem, remove_uploads
from server.attachments.media import MEDIA_NAMES, MEDIA_TYPES, sniff_media_type
from server.attachments.models import Attachment, AttachmentUpload
from server.attachments.store import (
    SHA256_HEX,
    AttachmentCorrupt,
    ChunkRefused,
    UnknownAttachment,
    declare_attachment,
    is_complete,
    missing_chunks,
    store_chunk,
)
from server.auth.access import NotFound
from server.auth.models import User
from server.auth.sessions import csrf_token
from server.crypto.fields import FieldCipher
from server.db import Database, utcnow
from server.forms import ValidationFailed

CHUNK_BYTES = 64 * 1024  # a bad 2G link still moves a chunk before it drops
MAX_UPLOAD_BYTES = 4 * 1024 * 1024  # photos are resized to a few hundred KB on the phone
MAX_UPLOAD_MB = MAX_UPLOAD_BYTES // 1024 // 1024
DRAFT_ID = re.compile(r"[0-9A-Za-z_-]{8,64}")
MATERIAL_CHARS = 200
NOT_FOUND = "没有找到这次上传（可能已被清理），请重新上传这张照片"
TYPES_TEXT = "、".join(MEDIA_NAMES.values())


class UploadIn(BaseModel):
    """手机上一张照片（或扫描件）的登记：属于哪个草稿的哪项材料、SHA-256、大小和类型。"""

    draft_id: str = Field(description="手机上草稿的编号（8–64 位字母、数字、- 或 _）")
    material: str = Field(description=f"材料名称，不超过 {MATERIAL_CHARS} 个字")
    sha256: str = Field(description="文件内容的 SHA-256（64 位小写十六进制）")
    size: int = Field(description=f"文件字节数，1 至 {MAX_UPLOAD_BYTES}")
    media_type: str = Field(description=f"类型：{'、'.join(MEDIA_TYPES)}（服务器按内容核对）")


class UploadOut(BaseModel):
    id: str = Field(description="上传编号，用于查询进度和发送分块")
    draft_id: str
    material: str
    sha256: str
    size: int
    media_type: str
    chunk_size: int = Field(description="分块大小（字节）；最后一块可以更短")
    chunk_count: int
    missing: list[int] = Field(description="服务器还没有收到的分块序号（从 0 开始）")
    complete: bool = Field(description="全部分块已收到且 SHA-256 已核对")
    linked: bool = Field(description="已随办件交给乡镇（由本草稿生成的办件已附上这张照片）")


class UploadList(BaseModel):
    csrf_token: str = Field(description="发送 POST/PUT 时放在 X-CSRF-Token 请求头中")
    uploads: list[UploadOut]


def _db(request: Request[Any, Any, Any]) -> Database:
    return cast(Database, request.app.state.db)


def _cipher(request: Request[Any, Any, Any]) -> FieldCipher:
    return cast(FieldCipher, request.app.state.cipher)


agent_only = agent_guard("只有村代办员可以从手机上传照片")


def declaration_problems(data: UploadIn) -> dict[str, str]:
    """What is wrong with a declaration, by field, in Chinese; empty when it may be stored."""
    errors: dict[str, str] = {}
    if not DRAFT_ID.fullmatch(data.draft_id):
        errors["draft_id"] = "草稿编号须是 8–64 位字母、数字、- 或 _，请在手机上重新保存草稿"
    if not data.material.strip() or len(data.material) > MATERIAL_CHARS:
        errors["material"] = f"请写明照片对应的材料（不超过 {MATERIAL_CHARS} 个字）"
    if not SHA256_HEX.fullmatch(data.sha256):
        errors["sha256"] = "SHA-256 须是 64 位小写十六进制数字"
    if data.size < 1:
        errors["size"] = "文件是空的，请重新拍照"
    elif data.size > MAX_UPLOAD_BYTES:
        errors["size"] = (
            f"照片不能超过 {MAX_UPLOAD_MB} MB，这个有 {data.size / 1024 / 1024:.1f} MB。"
            "请在手机上重新拍照（会自动压缩）"
        )
    if data.media_type not in MEDIA_TYPES:
        errors["media_type"] = f"只收 {TYPES_TEXT}，请重新拍照或另存为这些格式"
    return errors


async def _answer(session: AsyncSession, upload: AttachmentUpload) -> UploadOut:
    attachment = await session.get(Attachment, upload.sha256)
    if attachment is None:  # the clean-up dropped the upload and its file just now
        raise NotFound(NOT_FOUND)
    missing = await missing_chunks(session, upload.sha256)
    return UploadOut(
        id=upload.id,
        draft_id=upload.draft_id,
        material=upload.material,
        sha256=upload.sha256,
        size=attachment.size,
        media_type=attachment.media_type,
        chunk_size=attachment.chunk_size,
        chunk_count=attachment.chunk_count,
        missing=missing,
        complete=not missing,
        linked=upload.case_id is not None,
    )


async def access_upload_by_id(
    session: AsyncSession, actor: User, upload_id: str
) -> AttachmentUpload:
    """The actor's own upload; anyone else's, or none, is the same 404."""
    upload = await session.get(AttachmentUpload, upload_id)
    if upload is None or upload.user_id != actor.uid:
        raise NotFound(NOT_FOUND)
    return upload


async def do_declare_upload(
    session: AsyncSession, *, actor: User, data: UploadIn
) -> AttachmentUpload:
    """Declare the file (once for all who send it) and the agent's upload of it (idempotent);
    declaring again restarts the upload's `STALE_AFTER`."""
    if errors := declaration_problems(data):
        raise ValidationFailed(errors)
    await lock_agent(session, actor)  # one declaration of the agent's at a time: the quota
    # Locked (PostgreSQL) against the clean-up dropping the file between here and the insert.
    existing = await session.get(Attachment, data.sha256, with_for_update=True)
    if existing is not None and (existing.size, existing.media_type) != (
        data.size,
        data.media_type,
    ):
        raise ValidationFailed(
            {"sha256": "这个 SHA-256 已登记为另一种大小或类型的文件，请核对照片后重新上传"}
        )
    key = (
        col(AttachmentUpload.user_id) == actor.uid,
        col(AttachmentUpload.draft_id) == data.draft_id,
        col(AttachmentUpload.material) == data.material,
        col(AttachmentUpload.sha256) == data.sha256,
    )
    found = (await session.exec(select(AttachmentUpload).where(*key))).first()
    if found is not None:  # its file is declared already, with these facts
        found.touched_at = utcnow()  # the phone still has the photo: keep it another 30 days
        session.add(found)
        return found
    if problem := await quota_problem(session, actor, data.size):
        raise ValidationFailed({"size": problem})
    chunk_size = existing.chunk_size if existing is not None else CHUNK_BYTES
    await declare_attachment(
        session,
        sha256=data.sha256,
        size=data.size,
        media_type=data.media_type,
        chunk_size=chunk_size,
    )
    upload = AttachmentUpload(
        id=secrets.token_hex(16),
        user_id=actor.uid,
        draft_id=data.draft_id,
        material=data.material,
        sha256=data.sha256,
    )
    try:
        async with session.begin_nested():
            session.add(upload)
    except IntegrityError:  # the same declaration from a repeated request in the meantime
        return (await session.exec(select(AttachmentUpload).where(*key))).one()
    return upload


async def do_store_upload_chunk(
    session: AsyncSession, cipher: FieldCipher, *, upload: AttachmentUpload, idx: int, data: bytes
) -> None:
    """Store one chunk (a repeat is a no-op), restart the upload's `STALE_AFTER` and commit; the
    last one has the file verified. An upload or file the clean-up removed meanwhile is a 404."""
    attachment = await session.get(Attachment, upload.sha256)
    if attachment is None:  # the clean-up dropped the upload and its file just now
        raise NotFound(NOT_FOUND)
    if idx == 0 and sniff_media_type(data) != attachment.media_type:
        shown = MEDIA_NAMES[attachment.media_type]
        raise ValidationFailed(
            {"file": f"照片内容不是登记的{shown}（按文件内容判断），请重新拍照后再上传"}
        )
    try:
        await store_chunk(session, cipher, sha256=upload.sha256, idx=idx, data=data)
    except UnknownAttachment as exc:  # dropped since the check above
        raise NotFound(NOT_FOUND) from exc
    except ChunkRefused as exc:
        raise ValidationFailed(
            {"chunk": f"第 {idx + 1} 块的序号或长度与登记的文件不符，请重新上传这张照片"}
        ) from exc
    except AttachmentCorrupt as exc:
        await session.commit()  # the chunks are dropped, so that the phone may send them again
        raise ValidationFailed(
            {"sha256": "收到的照片与登记的 SHA-256 不符，已丢弃，手机会重新上传这张照片"}
        ) from exc
    now = utcnow()
    steps: dict[str, dt.datetime] = {"touched_at": now}
    if upload.completed_at is None and await is_complete(session, upload.sha256):
        steps["completed_at"] = now
    # Conditional: the upload may have been removed (the file kept for another) meanwhile.
    touched = await session.exec(
        update(AttachmentUpload).where(col(AttachmentUpload.id) == upload.id).values(**steps)
    )
    if touched.rowcount != 1:
        raise NotFound(NOT_FOUND)  # the chunk goes too: the session ends without a commit
    await session.commit()


async def do_withdraw_upload(
    session: AsyncSession, cipher: FieldCipher, upload: AttachmentUpload
) -> None:
    """Forget an upload the agent removed on the phone, unless its case has it already, and
    drop its file's chunks unless something else needs them (content-addressed, they may be
    another upload's or a case's too); commits."""
    refused = HTTPException(
        409, "这张照片已随办件交到乡镇，不能再从手机上撤回；如有错误，请告诉窗口工作人员"
    )
    if upload.case_id is not None:
        raise refused
    this = col(AttachmentUpload.id) == upload.id
    removed, _files = await remove_uploads(
        session, cipher, this, col(AttachmentUpload.case_id).is_(None)
    )
    await session.commit()
    if not removed and (await session.exec(select(AttachmentUpload.id).where(this))).first():
        raise refused  # linked to its case meanwhile (else the clean-up took it: gone anyway)


# --- handlers ----------------------------------------------------------------------------------

UploadId = Annotated[str, PathParameter(description="上传编号", max_length=32)]


@get("/agent/uploads", summary="我的照片上传", tags=["agent"], guards=[agent_only])
async def agent_upload_list(
    request: Request[Any, Any, Any],
    draft_id: Annotated[str | None, QueryParameter(description="只看这个草稿的")] = None,
) -> UploadList:
    user = device_agent(request)
    query = select(AttachmentUpload).where(col(AttachmentUpload.user_id) == user.uid)
    if draft_id is not None:
        query = query.where(col(AttachmentUpload.draft_id) == draft_id)
    async with _db(request).session() as session:
        rows = (await session.exec(query.order_by(col(AttachmentUpload.created_at)))).all()
        uploads: list[UploadOut] = []
        for row in rows:
            with contextlib.suppress(NotFound):  # removed by the clean-up since the query
                uploads.append(await _answer(session, row))
    session_data = request.scope.get("session")
    signed_in = request.scope.get("user") is not None  # not a phone signing without a session
    token = csrf_token(session_data) if signed_in and isinstance(session_data, dict) else ""
    return UploadList(csrf_token=token, uploads=uploads)


@post(
    "/agent/uploads",
    summary="登记一张照片的上传",
    description=(
        "同一草稿、材料和 SHA-256 再次登记得到同一个上传；回答列出服务器还缺的分块。"
        f"还没随办件发送的照片合计超过 {UNSENT_QUOTA_MB} MB 时，新的登记被拒（422，size）。"
    ),
    tags=["agent"],
    guards=[agent_only],
    status_code=200,
)
async def agent_upload_create(
    request: Request[Any, Any, Any], data: JSONBody[UploadIn]
) -> UploadOut:
    user = device_agent(request)
    async with _db(request).session() as session:
        upload = await do_declare_upload(session, actor=user, data=data)
        await session.commit()
        return await _answer(session, upload)


@get("/agent/uploads/{upload_id:str}", summary="上传进度", tags=["agent"], guards=[agent_only])
async def agent_upload_show(request: Request[Any, Any, Any], upload_id: UploadId) -> UploadOut:
    user = device_agent(request)
    async with _db(request).session() as session:
        return await _answer(session, await access_upload_by_id(session, user, upload_id))


@put(
    "/agent/uploads/{upload_id:str}/chunks/{idx:int}",
    summary="发送一个分块",
    description="请求体是该分块的原始字节（application/octet-stream）；重复发送无害。",
    tags=["agent"],
    guards=[agent_only],
)
async def agent_upload_chunk(
    request: Request[Any, Any, Any],
    upload_id: UploadId,
    idx: Annotated[int, PathParameter(description="分块序号，从 0 开始", ge=0)],
) -> UploadOut:
    user = device_agent(request)
    data = await request.body()
    async with _db(request).session() as session:
        upload = await access_upload_by_id(session, user, upload_id)
        await do_store_upload_chunk(session, _cipher(request), upload=upload, idx=idx, data=data)
        return await _answer(session, upload)


@delete(
    "/agent/uploads/{upload_id:str}",
    summary="撤回一张照片",
    description="办件送到乡镇之前可以撤回；已随办件交到乡镇的照片不能撤回（409）。",
    tags=["agent"],
    guards=[agent_only],
    status_code=204,
)
async def agent_upload_delete(request: Request[Any, Any, Any], upload_id: UploadId) -> None:
    user = device_agent(request)
    async with _db(request).session() as session:
        upload = await access_upload_by_id(session, user, upload_id)
        await do_withdraw_upload(session, _cipher(request), upload)


HANDLERS = [
    agent_upload_list,
    agent_upload_create,
    agent_upload_show,
    agent_upload_chunk,
    agent_upload_delete,
]
