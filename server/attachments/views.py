"""Uploading a scan on the case page and opening one.

Upload: a plain multipart form (works without JavaScript); a refusal comes back as the case
page with the form's errors (422) or the state machine's reason (409), nothing else lost.
The body is capped by the CSRF middleware (`web.MAX_FORM_BYTES`, 25 MB, the 413 page); a file
is capped here at `media.MAX_BYTES` (10 MB) with a message on the case page, so anything up to
the body cap gets the friendly answer.

Opening: the decrypted file, only through a case the user may see and that links it; served
inline with its sniffed type, never cached, never sniffed, under a CSP of its own, and audited.
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.attachments.access import NOT_FOUND, access_attachment_by_case
from server.attachments.actions import do_attach_scan
from server.attachments.media import MAX_BYTES, MEDIA_TYPES
from server.attachments.models import Attachment
from server.attachments.store import SHA256_HEX, AttachmentError, read_attachment
from server.audit.actions import do_record_audit
from server.auth.access import Forbidden, NotFound, current_user
from server.cases.access import access_case_by_id
from server.cases.actions import may_issue
from server.cases.machine import COMMAND_NAMES, TransitionRefused
from server.cases.views import CommandForm, case_page
from server.context import client_ip, flash, get_cipher, get_db, get_settings
from server.errors import error_page
from server.forms import ValidationFailed, form_values, read_form

log = logging.getLogger("yichuang.attachments")

# An image is shown by the browser's own image document: nothing may run, nothing may load but
# the image, and `sandbox` gives it an opaque origin. Chromium's PDF viewer is a plugin inside a
# generated page: the Chromium-based browsers of township PCs refuse to start it in a sandboxed
# document ("blocked by Chrome", crbug.com/413851), and the page needs `object-src` for its
# <embed> and inline styles (crbug.com/271452). So a PDF gets no `sandbox`, but still no scripts
# of the page, no forms, no framing; a PDF's own scripts run, if at all, inside the viewer's
# isolated process. (Chromium 156 of the browser tests draws a PDF under this policy.)
IMAGE_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox"
)
PDF_CSP = (
    "default-src 'none'; object-src 'self'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
EXTENSIONS = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "application/pdf": (".pdf",),
}


async def attachment_create(request: Request) -> Response:
    user = current_user(request)
    case_id = request.path_params["case_id"]
    async with get_db(request).session() as session:
        case = await access_case_by_id(session, user, case_id)
        if not may_issue(user, case, "attach"):
            raise Forbidden("您不能为这个办件上传扫描件")
    form = await read_form(request, max_files=1, max_fields=5)
    try:
        material = form_values(form, "material")["material"]
        upload = form.get("file")
        name, data = "", b""
        if isinstance(upload, UploadFile):
            name = upload.filename or ""
            data = await upload.read(MAX_BYTES + 1)
    finally:
        await form.close()
    shown = CommandForm("attach", COMMAND_NAMES["attach"], ("material",), {"material": material})
    async with get_db(request).session() as session:
        case = await access_case_by_id(session, user, case_id)
        try:
            attached = await do_attach_scan(
                session=session,
                cipher=get_cipher(request),
                settings=get_settings(request),
                actor=user,
                case=case,
                material=material,
                file_name=name,
                data=data,
            )
        except TransitionRefused as refused:
            await session.rollback()
            return await case_page(request, case_id, refused=refused.message, status_code=409)
        except ValidationFailed as failed:
            await session.rollback()
            shown.errors = failed.errors
            return await case_page(request, case_id, failed=shown, status_code=422)
    if attached.event is None:
        flash(request, f"“{attached.name}”已在“{material}”下，无需重复上传。")
    else:
        flash(request, f"已上传扫描件“{attached.name}”（{material}）。")
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


def served_name(name: str, media_type: str) -> str:
    """The file name with an extension that matches its content (a JPEG named .png is .jpg)."""
    extensions = EXTENSIONS.get(media_type, ())
    path = PurePosixPath(name or "扫描件")
    if path.suffix.lower() in extensions or not extensions:
        return path.name
    known = {ext for exts in EXTENSIONS.values() for ext in exts}
    stem = path.stem if path.suffix.lower() in known else path.name
    return stem + extensions[0]


async def attachment_show(request: Request) -> Response:
    user = current_user(request)
    case_id, sha256 = request.path_params["case_id"], request.path_params["sha256"]
    if not SHA256_HEX.fullmatch(sha256):
        raise NotFound(NOT_FOUND)
    cipher = get_cipher(request)
    async with get_db(request).session() as session:
        case, scan = await access_attachment_by_case(session, cipher, user, case_id, sha256)
        stored = await session.get(Attachment, sha256)
        try:
            data = await read_attachment(session, cipher, sha256)
        except AttachmentError:
            log.exception("attachment %s of case %s does not read back", sha256, case.id)
            return error_page(
                request,
                500,
                "这个扫描件在本机的存储中已损坏，无法打开。请重新上传扫描件，并告知管理员。",
            )
        do_record_audit(
            session=session,
            actor_id=user.id,
            action="case.scan_view",
            target=case.id,
            ip=client_ip(request),
            serial=case.serial,
            sha256=sha256,
            material=scan.material,
        )
        await session.commit()
    media_type = stored.media_type if stored is not None else scan.media_type
    if media_type not in MEDIA_TYPES:  # never serve what was not sniffed as a scan
        raise NotFound(NOT_FOUND)
    name = served_name(scan.name, media_type)
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(name, safe='')}",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": PDF_CSP if media_type == "application/pdf" else IMAGE_CSP,
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )
