"""Attaching a scan to a case: the file is stored, then linked by the case's `attach` event,
in one transaction (`do_apply` checks who may and when, and commits both).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from sqlmodel.ext.asyncio.session import AsyncSession

from server.attachments.access import scans_of_case
from server.attachments.media import MAX_BYTES, MAX_MB, sniff_media_type
from server.attachments.store import sha256_of, store_blob
from server.auth.models import User
from server.cases.actions import do_apply
from server.cases.models import CaseEvent, CaseRecord
from server.crypto.fields import FieldCipher
from server.forms import ValidationFailed
from server.settings import Settings

NAME_CHARS = 120


@dataclass(frozen=True)
class Attached:
    """What became of an upload: the new event, or None when it was attached already."""

    event: CaseEvent | None
    sha256: str
    name: str


def clean_file_name(name: str) -> str:
    """The base name only (browsers on Windows may send a whole path), without control
    characters, at most `NAME_CHARS` characters, the extension kept."""
    base = PureWindowsPath(PurePosixPath(name).name).name
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if len(base) > NAME_CHARS:
        _stem, dot, ext = base.rpartition(".")
        keep = ext if dot and len(ext) <= 8 else ""
        base = base[: NAME_CHARS - len(keep) - 1] + ("." + keep if keep else "")
    return base


def scan_problems(name: str, data: bytes) -> dict[str, str]:
    """What is wrong with an uploaded file, by field, in Chinese; empty when it may be stored."""
    if not name and not data:
        return {"file": "请选择要上传的扫描件（JPEG、PNG 图片或 PDF 文件）"}
    shown = f"“{name}”" if name else "这个文件"
    if not data:
        return {"file": f"{shown}是空文件，请重新扫描或拍照后再上传"}
    if len(data) > MAX_BYTES:
        return {
            "file": f"扫描件不能超过 {MAX_MB} MB，这个文件有 {len(data) / 1024 / 1024:.1f} MB。"
            "请降低扫描分辨率（200–300 dpi 即可）或分页上传"
        }
    if sniff_media_type(data) is None:
        return {
            "file": f"{shown}不是 JPEG、PNG 图片或 PDF 文件（按文件内容判断，与扩展名无关）。"
            "请用扫描仪或手机另存为 JPEG、PNG 或 PDF 后再上传"
        }
    return {}


async def do_attach_scan(
    *,
    session: AsyncSession,
    cipher: FieldCipher,
    settings: Settings,
    actor: User,
    case: CaseRecord,
    material: str,
    file_name: str,
    data: bytes,
    at: dt.datetime | None = None,
) -> Attached:
    """Store the file and link it to the case under the material (`ValidationFailed` with the
    fields to fix). The same file for the same material again changes nothing."""
    name = clean_file_name(file_name)
    errors = scan_problems(name, data)
    if not material:
        errors["material"] = "请选择扫描件对应的材料（办事指南所列材料之一，或“其他”）"
    if errors:
        raise ValidationFailed(errors)
    media_type = sniff_media_type(data) or ""
    sha256 = sha256_of(data)
    for scan in await scans_of_case(session, cipher, case.id):
        if scan.sha256 == sha256 and scan.material == material:
            return Attached(None, sha256, scan.name)
    await store_blob(session, cipher, data, media_type=media_type)
    event = await do_apply(
        session=session,
        cipher=cipher,
        settings=settings,
        actor=actor,
        case=case,
        command="attach",
        body={
            "material": material,
            "sha256": sha256,
            "name": name or f"扫描件{sha256[:8]}",
            "media_type": media_type,
            "size": len(data),
        },
        at=at,
    )
    return Attached(event, sha256, name)
