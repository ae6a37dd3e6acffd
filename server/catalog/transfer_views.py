"""The catalogue as a file: export (.xlsx, .csv) for everyone signed in; import for the county
admin, in two steps: upload → preview (nothing written) → confirm (all or nothing).

Between the two steps the upload waits in `<data dir>/imports/` (0700), named by a random token
and its uploader's id, for at most `KEEP_SECONDS`; older files go whenever a preview is made.
The confirm form carries only the token and the file's SHA-256: the server keeps no session
state, trusts nothing else from the client, and parses and checks the file again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.access import current_user
from server.catalog.actions import require_catalogue_editor
from server.catalog.queries import all_current
from server.catalog.sheet_layout import MAX_BYTES, MAX_ROWS
from server.catalog.sheets import (
    CSV_TYPE,
    XLSX_TYPE,
    SheetError,
    export_csv,
    export_xlsx,
    parse_upload,
)
from server.catalog.transfer import STATUS_NAMES, ImportPreview, do_import, preview_import
from server.context import flash, get_db, get_settings
from server.forms import ValidationFailed
from server.templating import LOCAL_TZ, render

IMPORT_DIR = "imports"
KEEP_SECONDS = 24 * 3600
EXPIRED = "上传的文件已过期或已经导入过（预览后保留 24 小时），请重新上传。"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class CatalogImportPage:
    error: str = ""
    max_rows: int = MAX_ROWS
    max_mb: int = MAX_BYTES // 1024 // 1024


@dataclass
class CatalogPreviewPage:
    preview: ImportPreview
    filename: str
    token: str = ""  # empty: nothing to confirm
    digest: str = ""
    status_names: dict[str, str] = field(default_factory=lambda: dict(STATUS_NAMES))
    error: str = ""


# --- export -----------------------------------------------------------------------------------


def _disposition(stem: str, extension: str) -> str:
    """RFC 6266/5987: a Chinese name for today's browsers, a plain one for the rest."""
    day = dt.datetime.now(LOCAL_TZ).date().isoformat()
    name = f"{stem}-{day}.{extension}"
    fallback = f"catalog-{day}.{extension}"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _export(request: Request, extension: str) -> Response:
    current_user(request)
    async with get_db(request).session() as session:
        drafts = [view.draft() for view in await all_current(session)]
    writer = export_xlsx if extension == "xlsx" else export_csv
    data = await run_in_threadpool(writer, drafts)
    headers = {
        "Content-Disposition": _disposition("事项目录", extension),
        "Cache-Control": "no-store",
    }
    media_type = XLSX_TYPE if extension == "xlsx" else CSV_TYPE
    return Response(data, media_type=media_type, headers=headers)


async def catalog_export_xlsx(request: Request) -> Response:
    return await _export(request, "xlsx")


async def catalog_export_csv(request: Request) -> Response:
    return await _export(request, "csv")


# --- the upload between preview and confirm ---------------------------------------------------


def _folder(data_dir: Path) -> Path:
    folder = data_dir / IMPORT_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # uploads may name people and phone numbers
    return folder


def _purge(data_dir: Path) -> None:
    """Delete uploads older than KEEP_SECONDS (previewed and never confirmed)."""
    limit = time.time() - KEEP_SECONDS
    for path in _folder(data_dir).iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except FileNotFoundError:
            continue  # another worker removed it first


def _keep(data_dir: Path, user_id: int, data: bytes) -> tuple[str, str]:
    """Store the upload; (token, SHA-256) for the confirm form."""
    token = secrets.token_urlsafe(24)
    extension = "xlsx" if data.startswith(b"PK\x03\x04") else "csv"
    path = _folder(data_dir) / f"{user_id}-{token}.{extension}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return token, hashlib.sha256(data).hexdigest()


def _take(data_dir: Path, user_id: int, token: str, digest: str) -> tuple[Path, bytes] | None:
    """Claim a stored upload for one confirmation (a second click finds nothing), or None."""
    if not _TOKEN.match(token) or not _DIGEST.match(digest):
        return None
    for extension in ("xlsx", "csv"):
        path = _folder(data_dir) / f"{user_id}-{token}.{extension}"
        taken = path.with_name(path.name + ".taken")
        try:
            os.rename(path, taken)
        except FileNotFoundError:
            continue
        data = taken.read_bytes()
        fresh = taken.stat().st_mtime >= time.time() - KEEP_SECONDS
        if fresh and hmac.compare_digest(hashlib.sha256(data).hexdigest(), digest):
            return taken, data
        taken.unlink(missing_ok=True)
        return None
    return None


# --- import -----------------------------------------------------------------------------------


def _import_page(request: Request, error: str = "", status_code: int = 200) -> Response:
    return render(request, "catalog/import.html", CatalogImportPage(error), status_code=status_code)


async def _read_upload(request: Request) -> tuple[str, bytes]:
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise SheetError("请选择要导入的 Excel（.xlsx）或 CSV（.csv）文件。")
        data = await upload.read(MAX_BYTES + 1)
        name = Path(upload.filename).name[:100]
    finally:
        await form.close()
    if len(data) > MAX_BYTES:
        raise SheetError(f"文件超过 {MAX_BYTES // 1024 // 1024} MB，请分成几个文件导入。")
    return name, data


async def catalog_import_form(request: Request) -> Response:
    require_catalogue_editor(current_user(request), get_settings(request))
    return _import_page(request)


async def catalog_import_preview(request: Request) -> Response:
    user = current_user(request)
    settings = get_settings(request)
    require_catalogue_editor(user, settings)
    try:
        name, data = await _read_upload(request)
        rows = await run_in_threadpool(parse_upload, name, data)
    except SheetError as problem:
        return _import_page(request, str(problem), 422)
    if not rows:
        return _import_page(request, "表格里只有列名，没有事项。", 422)
    async with get_db(request).session() as session:
        preview = await preview_import(session, rows)
    _purge(settings.data_dir)
    page = CatalogPreviewPage(preview, name)
    if preview.ok:
        page.token, page.digest = _keep(settings.data_dir, user.id or 0, data)
    return render(request, "catalog/preview.html", page)


async def catalog_import_confirm(request: Request) -> Response:
    user = current_user(request)
    settings = get_settings(request)
    require_catalogue_editor(user, settings)
    form = await request.form(max_files=0, max_fields=10)
    token, digest = (str(form.get(name, "")) for name in ("token", "digest"))
    taken = _take(settings.data_dir, user.id or 0, token, digest)
    if taken is None:
        return _import_page(request, EXPIRED, 410)
    path, data = taken
    try:
        rows = await run_in_threadpool(parse_upload, path.name.removesuffix(".taken"), data)
        async with get_db(request).session() as session:
            result = await do_import(session=session, settings=settings, actor=user, rows=rows)
    except SheetError as problem:
        return _import_page(request, str(problem), 422)
    except ValidationFailed as failed:
        async with get_db(request).session() as session:
            preview = await preview_import(session, rows)
        page = CatalogPreviewPage(preview, "", error=failed.errors.get("file", str(failed)))
        return render(request, "catalog/preview.html", page, status_code=422)
    finally:
        path.unlink(missing_ok=True)
    flash(
        request,
        f"已导入：新增 {result.created} 个，修改 {result.updated} 个，{result.unchanged} 个无变化",
    )
    return RedirectResponse("/catalog", status_code=303)
