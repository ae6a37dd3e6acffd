"""Catalogue export and import at the county: preview first, then all or nothing."""

from __future__ import annotations

import csv
import io
import os
import re
import time
from pathlib import Path

import httpx
import openpyxl
import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette

from server.auth.models import Role
from server.catalog import transfer
from server.catalog.models import CatalogItem, CatalogItemVersion
from server.catalog.queries import item_view
from server.catalog.rules import ItemDraft
from server.catalog.sheet_layout import HEADERS
from server.catalog.sheets import export_csv, export_xlsx, parse_csv, parse_xlsx
from server.forms import ValidationFailed
from tests.conftest import csrf_of, post_form, signed_in
from tests.factories import Personas, item_draft, make_item, make_user

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TOKEN = re.compile(r'name="token" value="([^"]+)"')
DIGEST = re.compile(r'name="digest" value="([^"]+)"')
EXISTING = "992000101000"
NEW = "992000101009"


async def _count(app: Starlette, model: type) -> int:
    async with app.state.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def _counts(app: Starlette) -> tuple[int, int]:
    return await _count(app, CatalogItem), await _count(app, CatalogItemVersion)


async def upload(
    client: httpx.AsyncClient, data: bytes, name: str = "目录.xlsx", kind: str = XLSX
) -> httpx.Response:
    token = await csrf_of(client, "/catalog/import")
    return await client.post(
        "/catalog/import", files={"file": (name, data, kind)}, data={"csrf_token": token}
    )


async def confirm(client: httpx.AsyncClient, preview: httpx.Response) -> httpx.Response:
    token, digest = TOKEN.search(preview.text), DIGEST.search(preview.text)
    assert token and digest, "no confirm form on the preview"
    return await post_form(
        client,
        "/catalog/import/confirm",
        {"token": token.group(1), "digest": digest.group(1)},
        page="/catalog/import",
    )


def _imports(app: Starlette) -> list[Path]:
    folder: Path = app.state.settings.data_dir / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


def _csv_with(drafts: list[ItemDraft], row: int, header: str, value: str) -> bytes:
    """The CSV export of the drafts with one cell changed (row 2 is the first item)."""
    text = export_csv(drafts).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text, newline="")))
    table[row - 1][HEADERS.index(header)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(table)
    return out.getvalue().encode("utf-8-sig")


@pytest.mark.parametrize("extension", ["xlsx", "csv"])
async def test_export_then_import_changes_nothing(county_app: Starlette, extension: str) -> None:
    await make_item(county_app)
    await make_item(
        county_app,
        basic_code="992000101001",
        name="城乡居民养老保险参保登记",
        conditions="一、年满 16 周岁\n二、本镇户籍",
        co_departments="财政所\n社保所",
    )
    before = await _counts(county_app)
    async with signed_in(county_app, "county.admin") as client:
        exported = await client.get(f"/catalog/export.{extension}")
        assert exported.status_code == 200
        disposition = exported.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="catalog-')
        # 事项目录-YYYY-MM-DD.<extension>, percent-encoded as UTF-8 (RFC 5987)
        assert "filename*=UTF-8''%E4%BA%8B%E9%A1%B9%E7%9B%AE%E5%BD%95-20" in disposition
        assert disposition.endswith(f".{extension}")
        kind = XLSX if extension == "xlsx" else "text/csv"
        preview = await upload(client, exported.content, f"目录.{extension}", kind)
        assert preview.status_code == 200, preview.text
        assert "0 新增，0 修改，2 无变化，0 有错误" in preview.text
        assert len(_imports(county_app)) == 1
        done = await confirm(client, preview)
        assert done.status_code == 303 and done.headers["location"] == "/catalog"
        listing = await client.get("/catalog")
        assert "已导入：新增 0 个，修改 0 个，2 个无变化" in listing.text
    assert await _counts(county_app) == before
    assert _imports(county_app) == []


async def test_a_bad_row_stops_the_whole_file(county_app: Starlette) -> None:
    await make_item(county_app, basic_code=EXISTING)
    before = await _counts(county_app)
    drafts = [
        item_draft(basic_code=EXISTING, promised_limit=5),  # changed
        item_draft(basic_code=NEW, name="新增的事项"),  # new
        item_draft(basic_code="992000101010", name="时限写错的事项"),
        item_draft(basic_code="992000101011", name="承诺太长的事项", promised_limit=9),
    ]
    data = _csv_with(drafts, 4, "法定时限", "二十")
    async with signed_in(county_app, "county.admin") as client:
        preview = await upload(client, data, "目录.csv", "text/csv")
        assert preview.status_code == 200
        assert "1 新增，1 修改，0 无变化，2 有错误" in preview.text
        assert "第 4 行“法定时限”：应为整数，现为“二十”" in preview.text
        assert "时限写错的事项" in preview.text  # a row that cannot be read still shows its name
        assert (
            "第 5 行“承诺时限”：按本县规定，承诺时限不得超过法定时限的 40%："
            "法定 20，承诺最多 8，现填 9" in preview.text
        )
        assert "修改：承诺时限" in preview.text
        assert "/catalog/import/confirm" not in preview.text and "确认导入" not in preview.text
        assert "整个文件都没有导入" in preview.text
    assert await _counts(county_app) == before
    assert _imports(county_app) == []  # nothing kept for a file that cannot be confirmed


async def test_fixed_file_makes_one_item_and_one_version(county_app: Starlette) -> None:
    item = await make_item(county_app, basic_code=EXISTING)
    items, versions = await _counts(county_app)
    data = export_xlsx(
        [
            item_draft(basic_code=EXISTING, promised_limit=5),
            item_draft(basic_code=NEW, name="新增的事项", process="申请\n受理\n办结"),
        ]
    )
    async with signed_in(county_app, "county.admin") as client:
        preview = await upload(client, data)
        assert "1 新增，1 修改，0 无变化，0 有错误" in preview.text
        assert "修改：承诺时限" in preview.text
        assert await _counts(county_app) == (items, versions)  # the preview writes nothing
        done = await confirm(client, preview)
        assert done.status_code == 303
        listing = await client.get("/catalog")
        assert "已导入：新增 1 个，修改 1 个，0 个无变化" in listing.text
        again = await confirm(client, preview)  # a second click finds nothing to import
        assert again.status_code == 410
    assert await _counts(county_app) == (items + 1, versions + 2)
    async with county_app.state.db.session() as session:
        changed = await item_view(session, item.id or 0)
        new = (await session.exec(select(CatalogItem).where(CatalogItem.basic_code == NEW))).one()
        created = await item_view(session, new.id or 0)
    assert changed.version.version == 2 and changed.version.change_note == "表格导入"
    assert changed.version.promised_limit == 5
    assert created.version.version == 1 and created.version.process == "申请\n受理\n办结"
    assert [m.name for m in created.materials] == ["居民身份证", "申请书"]
    assert _imports(county_app) == []


async def test_unknown_expired_or_altered_upload_is_gone(county_app: Starlette) -> None:
    await make_item(county_app, basic_code=EXISTING)
    data = export_xlsx([item_draft(basic_code=NEW, name="新增的事项")])
    async with signed_in(county_app, "county.admin") as client:
        unknown = await post_form(
            client,
            "/catalog/import/confirm",
            {"token": "A" * 32, "digest": "0" * 64},
            page="/catalog/import",
        )
        assert unknown.status_code == 410
        assert "上传的文件已过期或已经导入过" in unknown.text and 'name="file"' in unknown.text

        preview = await upload(client, data)
        digest = DIGEST.search(preview.text)
        token = TOKEN.search(preview.text)
        assert digest and token
        altered = await post_form(
            client,
            "/catalog/import/confirm",
            {"token": token.group(1), "digest": "f" * 64},
            page="/catalog/import",
        )
        assert altered.status_code == 410

        preview = await upload(client, data)
        (stored,) = _imports(county_app)
        assert stored.stat().st_mode & 0o777 == 0o600
        assert stored.parent.stat().st_mode & 0o777 == 0o700
        day_ago = time.time() - 25 * 3600
        os.utime(stored, (day_ago, day_ago))
        expired = await confirm(client, preview)
        assert expired.status_code == 410 and "请重新上传" in expired.text

        old = stored.with_name("1-" + "B" * 32 + ".csv")
        old.write_bytes(b"left over")
        os.utime(old, (day_ago, day_ago))
        await upload(client, data)  # a new preview clears uploads older than 24 hours
        assert old not in _imports(county_app) and len(_imports(county_app)) == 1
    assert await _count(county_app, CatalogItem) == 1


async def test_duplicate_codes_and_retired_items_are_errors(county_app: Starlette) -> None:
    retired = await make_item(county_app, basic_code=EXISTING)
    async with county_app.state.db.session() as session:
        retired.status = "retired"
        session.add(retired)
        await session.commit()
    drafts = [
        item_draft(basic_code=NEW),
        item_draft(basic_code=EXISTING, promised_limit=5),
        item_draft(basic_code=NEW, name="又写了一遍"),
        item_draft(basic_code=EXISTING),  # unchanged: nothing to write, so no error
    ]
    rows = parse_xlsx(export_xlsx(drafts))
    rows.pop()  # the retired item, unchanged, is tried alone below
    async with county_app.state.db.session() as session:
        preview = await transfer.preview_import(session, rows)
        alone = await transfer.preview_import(session, parse_xlsx(export_xlsx(drafts[3:])))
    assert [row.status for row in preview.rows] == ["error", "error", "error"]
    assert preview.rows[0].errors == [
        "第 2 行“实施编码”：与第 4 行重复，同一事项在文件里只能出现一次"
    ]
    assert preview.rows[1].errors[0].endswith("已停用，请先在事项目录中恢复，再导入修改")
    assert not preview.ok and preview.counts["error"] == 3
    assert [row.status for row in alone.rows] == ["unchanged"]


async def test_import_is_all_or_nothing(
    county_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_item(county_app, basic_code=EXISTING)
    before = await _counts(county_app)
    settings = county_app.state.settings
    drafts = [item_draft(basic_code=NEW, name="新增的事项"), item_draft(basic_code=EXISTING)]
    bad = parse_csv(_csv_with(drafts, 3, "承诺时限", "30"))
    async with county_app.state.db.session() as session:
        with pytest.raises(ValidationFailed, match="文件有错误，没有导入任何内容"):
            await transfer.do_import(session=session, settings=settings, actor=None, rows=bad)

    async def refuse(**_: object) -> None:
        raise ValidationFailed({"name": "模拟写入失败"})

    # The new item of row 2 is written before row 3 fails: the rollback must take it back.
    monkeypatch.setattr(transfer, "do_update_item", refuse)
    drafts[1] = item_draft(basic_code=EXISTING, promised_limit=5)
    rows = parse_xlsx(export_xlsx(drafts))
    async with county_app.state.db.session() as session:
        with pytest.raises(ValidationFailed, match="第 3 行：模拟写入失败。没有导入任何内容"):
            await transfer.do_import(session=session, settings=settings, actor=None, rows=rows)
    assert await _counts(county_app) == before


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("目录.xlsx", b"", "文件是空的"),
        ("目录.pdf", b"%PDF-1.7", "只能导入 Excel（.xlsx）或 CSV（.csv）文件"),
        ("目录.xlsx", b"not a workbook", "文件不是有效的 Excel（.xlsx）文件"),
        ("目录.csv", "事项名称,备注\r\n低保,无\r\n".encode(), "缺少这些列：基本编码、实施编码"),
        ("目录.csv", ",".join(HEADERS).encode(), "表格里只有列名，没有事项"),
    ],
)
async def test_bad_upload_shows_the_form_again(
    county_app: Starlette, name: str, data: bytes, message: str
) -> None:
    async with signed_in(county_app, "county.admin") as client:
        response = await upload(client, data, name, "application/octet-stream")
        assert response.status_code == 422
        assert message in response.text
        assert 'enctype="multipart/form-data"' in response.text
        token = await csrf_of(client, "/catalog/import")
        nothing = await client.post("/catalog/import", data={"csrf_token": token})
        assert nothing.status_code == 422 and "请选择要导入的" in nothing.text


async def test_import_is_for_the_county_admin_only(app: Starlette, personas: Personas) -> None:
    data = export_xlsx([item_draft(basic_code=NEW)])
    async with signed_in(app, personas.admin.username) as client:
        assert (await client.get("/catalog/import")).status_code == 403
        assert (await upload(client, data)).status_code == 403
        listing = await client.get("/catalog")
        assert (
            "/catalog/export.xlsx" in listing.text and 'href="/catalog/import"' not in listing.text
        )
    assert await _count(app, CatalogItem) == 1  # the personas' item only


async def test_county_clerk_exports_but_cannot_import(county_app: Starlette) -> None:
    await make_item(county_app, name="最低生活保障")
    await make_item(county_app, basic_code="992000101001", name="临时救助")
    await make_user(county_app, role=Role.CLERK, org_unit_code="990102", username="county.clerk")
    async with signed_in(county_app, "county.clerk") as client:
        response = await client.get("/catalog/export.xlsx")
        assert response.status_code == 200
        assert response.headers["content-type"] == XLSX
        book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
        names = [row[2] for row in book["事项目录"].iter_rows(min_row=2, values_only=True)]
        assert names == ["最低生活保障", "临时救助"]
        assert "说明" in book.sheetnames
        text = (await client.get("/catalog/export.csv")).content
        assert text.startswith(b"\xef\xbb\xbf") and "临时救助".encode() in text
        assert (await client.get("/catalog/import")).status_code == 403
    async with signed_in(county_app, "county.admin") as client:
        listing = await client.get("/catalog")
        assert 'href="/catalog/import"' in listing.text
