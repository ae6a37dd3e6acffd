"""Scans of materials on the case page: upload (JPEG, PNG, PDF, told by content), the limits and
their messages in Chinese on the case page, repeats, who may attach, and opening a scan only
through a case that links it."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from server.attachments.views import IMAGE_CSP, PDF_CSP, served_name
from server.audit.models import AuditLog
from server.auth.models import Role
from server.cases.events import events_of
from server.cases.models import CaseRecord
from server.forms import _InMemoryMultiPartParser
from server.web import MAX_FORM_BYTES
from tests.conftest import csrf_of, signed_in
from tests.factories import (
    OTHER_TOWNSHIP,
    Personas,
    make_persona_case,
    make_persona_scan,
    make_user,
)
from tests.http.test_case_log import claim, open_case
from tests.scan_files import tiny_jpeg, tiny_pdf, tiny_png

ID_CARD = "居民身份证"
FORM = "申请书"


async def upload(
    client: httpx.AsyncClient,
    case_id: str,
    data: bytes | None,
    *,
    name: str = "scan.png",
    material: str = ID_CARD,
    content_type: str = "image/png",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Post the case page's upload form as a browser does (multipart, the page's CSRF token)."""
    token = await csrf_of(client, f"/cases/{case_id}")
    files = {"file": (name, data, content_type)} if data is not None else None
    return await client.post(
        f"/cases/{case_id}/attachments",
        data={"csrf_token": token, "material": material},
        files=files,
        headers=headers,
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def attach_events(app: Starlette, case_id: str) -> int:
    async with app.state.db.session() as session:
        return len([e for e in await events_of(session, case_id) if e.kind == "attach"])


async def test_jpeg_png_and_pdf_are_attached_listed_and_opened(
    app: Starlette, personas: Personas
) -> None:
    case_id = await make_persona_case(app, personas)
    files = [
        ("身份证正面.jpg", tiny_jpeg(b"front"), ID_CARD, "image/jpeg"),
        ("身份证反面.png", tiny_png(b"back"), ID_CARD, "image/png"),
        ("申请书.pdf", tiny_pdf("application"), FORM, "application/pdf"),
    ]
    async with signed_in(app, personas.township_officer.username) as client:
        for name, data, material, _media_type in files:
            # The browser's type is ignored: the content decides.
            sent = await upload(client, case_id, data, name=name, material=material)
            assert sent.status_code == 303, sent.text[-500:]
            assert sent.headers["location"] == f"/cases/{case_id}"
            page = await client.get(f"/cases/{case_id}")
            assert f"已上传扫描件“{name}”（{material}）" in page.text
        assert "材料扫描件" in page.text
        section = page.text[page.text.index("材料扫描件") : page.text.index("办理过程")]
        assert section.index(ID_CARD) < section.index("身份证正面.jpg") < section.index(FORM)
        for name, data, _material, media_type in files:
            href = f"/cases/{case_id}/attachments/{sha(data)}"
            assert f'href="{href}"' in section and name in section
            assert f"{max(1, round(len(data) / 1024))} KB" in section
            shown = await client.get(href)
            assert shown.status_code == 200 and shown.content == data
            assert shown.headers["content-type"] == media_type
            assert shown.headers["content-disposition"] == (
                f"inline; filename*=UTF-8''{quote(name)}"
            )
            assert shown.headers["cache-control"] == "private, no-store"
            assert shown.headers["x-content-type-options"] == "nosniff"
            csp = PDF_CSP if media_type == "application/pdf" else IMAGE_CSP
            assert shown.headers["content-security-policy"] == csp
            assert "script-src" not in csp and "default-src 'none'" in csp
        assert page.text.count("上传扫描件") >= 3  # the timeline names the events
        api = await client.get(f"/api/cases/{case_id}")
    listed = api.json()["attachments"]
    assert [(a["material"], a["name"], a["media_type"]) for a in listed] == [
        (m, n, t) for n, _d, m, t in files
    ]
    assert [a["sha256"] for a in listed] == [sha(d) for _n, d, _m, _t in files]
    assert "attach" not in api.json()["commands"]
    async with app.state.db.session() as session:
        audits = (
            await session.exec(select(AuditLog).where(col(AuditLog.action) == "case.scan_view"))
        ).all()
    assert len(audits) == 3 and {a.target for a in audits} == {case_id}
    assert all(a.actor_id == personas.township_officer.id for a in audits)


async def test_a_wrong_file_is_refused_on_the_case_page_with_everything_kept(
    app: Starlette, personas: Personas
) -> None:
    case_id = await make_persona_case(app, personas)
    async with signed_in(app, personas.township_officer.username) as client:
        text = await upload(
            client, case_id, "这不是图片".encode() * 10, name="假的.jpg", material=FORM
        )
        assert text.status_code == 422
        assert "“假的.jpg”不是 JPEG、PNG 图片或 PDF 文件" in text.text
        assert "按文件内容判断" in text.text
        assert f'<option value="{FORM}" selected>' in text.text  # the choice is kept
        async with app.state.db.session() as session:
            record = await session.get(CaseRecord, case_id)
        assert record is not None and record.serial in text.text
        assert "王秀兰" in text.text and "办理过程" in text.text and "确认受理" in text.text

        big = tiny_jpeg() + b"\0" * (10 * 1024 * 1024)
        too_big = await upload(client, case_id, big, name="big.jpg")
        assert too_big.status_code == 422 and "扫描件不能超过 10 MB" in too_big.text

        missing = await upload(client, case_id, None, material="")
        assert missing.status_code == 422
        assert "请选择要上传的扫描件" in missing.text and "请选择扫描件对应的材料" in missing.text
        empty = await upload(client, case_id, b"", name="空.png")
        assert empty.status_code == 422 and "是空文件" in empty.text

        unknown = await upload(client, case_id, tiny_png(), material="户口簿")
        assert unknown.status_code == 422
        assert "“户口簿”不是本事项（第 1 版）的申请材料" in unknown.text
        assert f"{ID_CARD}、{FORM}、其他" in unknown.text

        other = await upload(client, case_id, tiny_png(b"other"), material="其他")
        assert other.status_code == 303
    assert await attach_events(app, case_id) == 1


async def test_a_body_over_the_form_limit_gets_the_413_page(
    app: Starlette, personas: Personas
) -> None:
    case_id = await make_persona_case(app, personas)
    async with signed_in(app, personas.township_officer.username) as client:
        huge = tiny_jpeg() + b"\0" * MAX_FORM_BYTES
        refused = await upload(client, case_id, huge, name="huge.jpg")
    assert refused.status_code == 413 and "25 MB" in refused.text
    assert _InMemoryMultiPartParser.spool_max_size > MAX_FORM_BYTES  # never a temporary file


async def test_the_same_file_twice_is_a_friendly_no_op(app: Starlette, personas: Personas) -> None:
    case_id = await make_persona_case(app, personas)
    scan = tiny_png(b"twice")
    async with signed_in(app, personas.township_officer.username) as client:
        first = await upload(client, case_id, scan, name="a.png")
        again = await upload(client, case_id, scan, name="b.png")
        assert first.status_code == again.status_code == 303
        page = await client.get(f"/cases/{case_id}")
        assert "“a.png”已在“居民身份证”下，无需重复上传" in page.text
        assert await attach_events(app, case_id) == 1
        # The same file under another material is another link (one stored copy).
        assert (await upload(client, case_id, scan, name="c.png", material=FORM)).status_code == 303
        with_htmx = await upload(
            client,
            case_id,
            tiny_pdf("boosted"),
            name="d.pdf",
            headers={"HX-Request": "true", "HX-Boosted": "true"},
        )
        assert with_htmx.status_code == 303
    assert await attach_events(app, case_id) == 3


async def test_a_scan_opens_only_through_a_case_that_links_it(
    app: Starlette, personas: Personas
) -> None:
    case_id = await make_persona_case(app, personas)
    scan = tiny_png(b"linked")
    digest = await make_persona_scan(app, personas, scan)
    other_case = await open_case(app, personas.township_officer, personas)
    stranger = await make_user(app, username="baishui.c", org_unit_code=OTHER_TOWNSHIP)
    href = f"/cases/{case_id}/attachments/{digest}"
    async with signed_in(app, personas.by_role[Role.SUPERVISOR].username) as client:
        assert (await client.get(href)).content == scan  # may see the case: may see the scan
    async with signed_in(app, stranger.username) as client:
        assert (await client.get(href)).status_code == 404
    async with signed_in(app, personas.township_officer.username) as client:
        not_linked = await client.get(f"/cases/{other_case.id}/attachments/{digest}")
        unknown = await client.get(f"/cases/{case_id}/attachments/{sha(b'nothing')}")
        malformed = await client.get(f"/cases/{case_id}/attachments/../../{digest}")
        upper = await client.get(f"/cases/{case_id}/attachments/{digest.upper()}")
    assert not_linked.status_code == unknown.status_code == upper.status_code == 404
    assert malformed.status_code == 404
    assert not_linked.text == unknown.text.replace(case_id, other_case.id)
    assert "没有找到这个扫描件" in unknown.text


async def test_who_may_attach(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    by_agent = await open_case(app, personas.village_clerk, personas, channel="village_agent")
    clerk_case = await make_persona_case(app, personas)
    async with signed_in(app, personas.village_clerk.username) as client:
        page = await client.get(f"/cases/{by_agent.id}")
        assert 'enctype="multipart/form-data"' in page.text and "确认受理" not in page.text
        assert (await upload(client, by_agent.id, tiny_png(b"agent"))).status_code == 303
        assert (await upload(client, clerk_case, tiny_png(b"x"))).status_code == 404
    async with signed_in(app, personas.by_role[Role.SUPERVISOR].username) as client:
        page = await client.get(f"/cases/{clerk_case}")
        assert 'action="/cases/' + clerk_case + '/attachments"' not in page.text
        refused = await upload(client, clerk_case, tiny_png(b"supervisor"))
        assert refused.status_code == 403
    async with signed_in(app, personas.township_officer.username) as client:
        token = await csrf_of(client, f"/cases/{clerk_case}")
        generic = await client.post(
            f"/cases/{clerk_case}/commands/attach", data={"csrf_token": token}
        )
        assert generic.status_code == 404  # a scan has its own route, never the generic one
        refuse = await client.post(
            f"/cases/{by_agent.id}/commands/refuse",
            data={"csrf_token": token, "reasons": "不属于本中心受理范围"},
        )
        assert refuse.status_code == 303
        # After the refusal the window still files the signed notice; the agent no longer.
        assert (await upload(client, by_agent.id, tiny_pdf("receipt"))).status_code == 303
    async with signed_in(app, personas.village_clerk.username) as client:
        assert (await upload(client, by_agent.id, tiny_png(b"late"))).status_code == 403
    assert await attach_events(app, by_agent.id) == 2


async def test_the_public_progress_page_leaves_scans_out(
    app: Starlette, personas: Personas
) -> None:
    case_id = await make_persona_case(app, personas)
    await make_persona_scan(app, personas, tiny_png(b"progress"))
    async with app.state.db.session() as session:
        case = await session.get(CaseRecord, case_id)
    assert case is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        token = await csrf_of(client, "/progress")
        found = await client.post(
            "/progress", data={"csrf_token": token, "serial": case.serial, "phone_last4": "5678"}
        )
    assert found.status_code == 200 and "提交" in found.text
    assert "上传扫描件" not in found.text


@pytest.mark.parametrize(
    ("name", "media_type", "served"),
    [
        ("身份证.jpg", "image/jpeg", "身份证.jpg"),
        ("身份证.JPEG", "image/jpeg", "身份证.JPEG"),
        ("身份证.png", "image/jpeg", "身份证.jpg"),
        ("扫描", "application/pdf", "扫描.pdf"),
        ("a.b.pdf", "image/png", "a.b.png"),
        ("", "image/png", "扫描件.png"),
    ],
)
def test_the_served_name_matches_the_content(name: str, media_type: str, served: str) -> None:
    assert served_name(name, media_type) == served
