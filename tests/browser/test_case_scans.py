"""Scans on the case page in Chromium, with JavaScript (htmx) and without: the clerk registers a
case, attaches a photo of the ID card (a PNG chosen with the file input), sees it listed under
its material, and opens it in a new tab, where the browser draws it under the scan's own CSP;
a text file named .jpg is refused on the case page in Chinese."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.scan_files import tiny_png

from .conftest import ARTIFACTS, OpenTab, Problems, TownshipServer
from .test_case_journeys import ID_CARD, applicant, choose_item, fill_applicant, register
from .test_signin import CLERK, JS_MODES, sign_in, submit


@pytest.mark.parametrize("javascript", JS_MODES)
def test_clerk_attaches_a_scan_and_opens_it(
    open_tab: OpenTab, township_server: TownshipServer, javascript: bool
) -> None:
    tab = open_tab(javascript=javascript)
    page = tab.page
    sign_in(page, township_server, CLERK, township_server.logins[CLERK])
    choose_item(page, javascript)
    fill_applicant(page, applicant("赵凤英", dt.date(1941, 5, 3), 7 if javascript else 8))
    register(page)

    section = page.get_by_role("region", name="材料扫描件")
    expect(section).to_contain_text("还没有上传扫描件")
    expect(section.get_by_label("扫描件")).to_have_attribute(
        "accept", "image/jpeg,image/png,application/pdf"
    )
    expect(section).to_contain_text("每个不超过 10 MB")

    # A text file that calls itself a JPEG: refused by its content, on the case page (422).
    section.get_by_label("材料").select_option(ID_CARD)
    section.get_by_label("扫描件").set_input_files(
        {"name": "身份证.jpg", "mimeType": "image/jpeg", "buffer": "不是图片".encode()}
    )
    submit(page, section.get_by_role("button", name="上传扫描件"), status=422)
    section = page.get_by_role("region", name="材料扫描件")
    expect(section.get_by_role("alert")).to_contain_text("上传没有成功")
    expect(section).to_contain_text("“身份证.jpg”不是 JPEG、PNG 图片或 PDF 文件")
    expect(section.get_by_label("材料")).to_have_value(ID_CARD)  # the choice is kept
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^990102101-"))

    scan = tiny_png(b"browser journey", width=32, height=24)
    section.get_by_label("扫描件").set_input_files(
        {"name": "身份证正面.png", "mimeType": "image/png", "buffer": scan}
    )
    submit(page, section.get_by_role("button", name="上传扫描件"))
    expect(page.get_by_role("status")).to_contain_text(f"已上传扫描件“身份证正面.png”（{ID_CARD}）")
    section = page.get_by_role("region", name="材料扫描件")
    expect(section.get_by_role("heading", level=3)).to_have_text(ID_CARD)
    expect(section).to_contain_text("PNG 图片 · 1 KB")
    expect(page.locator("ol.timeline")).to_contain_text("上传扫描件")
    if javascript:
        ARTIFACTS.mkdir(exist_ok=True)
        section.screenshot(path=ARTIFACTS / "case-scans.png")

    link = section.get_by_role("link", name="身份证正面.png")
    with page.context.expect_page() as opened:
        link.click()
    shown = opened.value
    shown.wait_for_load_state()
    watched = Problems()
    watched.watch(shown)
    shown.reload()  # again, watched: a CSP violation would be a console error
    assert re.search(r"/cases/[^/]+/attachments/[0-9a-f]{64}$", shown.url), shown.url
    image = shown.locator("img")
    expect(image).to_have_count(1)
    # Drawn under the scan's CSP (sandboxed, nothing but the image): it has its own size.
    assert image.evaluate("img => img.complete && img.naturalWidth") == 32
    watched.assert_clean()
    tab.problems.assert_clean(allow_status={422})
