"""Bundles on the sync page (admin only): download an export, upload the other side's bundle.

A township downloads its up bundle and uploads the county's answer; a county downloads the
answer for one township (`?for=`) or uploads a township's bundle and gets the answer back as
the download. The work is server/relay/bundle.py's, the same as `yichuang bundle`; a refusal
comes back as the sync page with the Chinese message (409 or 422), never a 500.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.access import current_user, require_role
from server.auth.models import Role
from server.context import flash, get_cipher, get_db, get_settings
from server.db import utcnow
from server.forms import read_form
from server.org.codes import normalise
from server.relay.bundle import export_answer, export_up, import_answer, import_up
from server.relay.bundle_frames import BundleFailed
from server.relay.views import sync_page
from server.web import MAX_FORM_BYTES
from sync.bundle import DEFAULT_MAX_SIZE

BUNDLE_ROLES = frozenset({Role.ADMIN})
# A page upload: the form's whole body is capped at web.MAX_FORM_BYTES (25 MB; past it the
# 413 page names the command line); the file itself at 24 MB, the rest is the form around it.
MAX_UPLOAD = min(DEFAULT_MAX_SIZE, MAX_FORM_BYTES - 1024 * 1024)


def _download(data: bytes, region: str, kind: str) -> Response:
    name = f"yichuang-{region}-{kind}-{utcnow():%Y%m%d-%H%M}.ycb"
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _failed(problem: BundleFailed) -> str:
    return f"{problem.message}（原因代码 {problem.reason}）"


async def sync_bundle_download(request: Request) -> Response:
    require_role(current_user(request), BUNDLE_ROLES)
    settings = get_settings(request)
    db, cipher = get_db(request), get_cipher(request)
    try:
        if settings.role == "county":
            child = normalise(request.query_params.get("for", ""))
            if not child:
                return await sync_page(request, error="请选择要导出答复包的乡镇。", status_code=422)
            data, report = await export_answer(db, cipher, settings, child)
            return _download(data, child, "answer")
        data, report = await export_up(db, cipher, settings)
    except BundleFailed as problem:
        return await sync_page(request, error=_failed(problem), status_code=409)
    return _download(data, settings.region_code, f"up-{report.events}")


async def sync_bundle_upload(request: Request) -> Response:
    require_role(current_user(request), BUNDLE_ROLES)
    settings = get_settings(request)
    db, cipher = get_db(request), get_cipher(request)
    form = await read_form(request, max_files=1, max_fields=5)
    try:
        upload = form.get("file")
        name, data = "", b""
        if isinstance(upload, UploadFile):
            name = (upload.filename or "")[:100]
            data = await upload.read(MAX_UPLOAD + 1)
    finally:
        await form.close()
    if not data:
        return await sync_page(request, error="请选择要导入的数据包文件（.ycb）。", status_code=422)
    if len(data) > MAX_UPLOAD:
        limit = MAX_UPLOAD // 1024 // 1024
        error = f"文件超过 {limit} MB，请在服务器上用 yichuang bundle import 导入。"
        return await sync_page(request, error=error, status_code=422)
    source = f"upload:{name or '-'}"
    try:
        if settings.role == "township":
            report = await import_answer(db, cipher, settings, data, source=source)
            flash(
                request,
                f"已导入答复包：上级已确认至第 {report.acked} 号，"
                f"收到 {report.events} 个下发事件，新增 {report.stored} 个"
                if report.envelopes
                else "这个答复包此前已经导入过，本次没有任何改动。",
            )
            return RedirectResponse("/admin/sync", status_code=303)
        report = await import_up(db, cipher, settings, data, source=source)
        answer, _written = await export_answer(db, cipher, settings, report.peer, imported=report)
    except BundleFailed as problem:
        return await sync_page(request, error=_failed(problem), status_code=422)
    flash(
        request,
        f"已导入{report.peer_name}的数据包：新增 {report.stored} 个事件，"
        f"重复 {report.repeated} 个，隔离 {report.quarantined} 个；答复包已下载，请带回乡镇导入。"
        if report.envelopes
        else f"{report.peer_name}的这个数据包此前已经导入过；答复包已重新下载。",
    )
    return _download(answer, report.peer, "answer")
