"""The service guide (办事指南) in Chromium: from the catalogue as a clerk, then as anybody on a
phone (no sign-in), then as it prints. Screenshots are left in test-artifacts/ for people.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.http.test_guide import HEADINGS

from .conftest import ARTIFACTS, OpenTab, TownshipServer

CLERK = "zhen.clerk"
ITEM = "农村宅基地和村民建房（规划许可）审批"


def sign_in(page: Page, server: TownshipServer, login: str) -> None:
    page.goto(server.url("/signin"))
    page.get_by_label("用户名或手机号").fill(login)
    page.get_by_label("密码", exact=True).fill(server.logins[login])
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(server.url("/"))


def expect_guide(page: Page) -> None:
    """The guide of ITEM: title, the ten parts in order, the materials table, a drawn QR code."""
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{ITEM}办事指南")
    expect(page.get_by_role("heading", level=2)).to_have_text(HEADINGS)
    materials = page.locator("table.materials")
    if page.viewport_size and page.viewport_size["width"] > 640:  # narrower: one card a row
        expect(materials.get_by_role("columnheader")).to_have_text(
            ["序号", "材料名称", "出具单位", "原件", "复印件", "是否必需", "容缺", "说明"]
        )
    else:
        expect(materials.locator("tbody tr").first.locator("td").nth(1)).to_have_attribute(
            "data-label", "材料名称"
        )
    expect(materials.locator("tbody tr").first).to_be_visible()
    assert materials.locator("tbody tr").count() >= 2
    qr = page.get_by_role("img", name="扫码查看本办事指南")
    expect(qr).to_be_visible()
    # The data: image was allowed by the CSP and decoded: it has a size of its own.
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")


def fits_width(page: Page, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert isinstance(scroll_width, int)
    assert scroll_width <= width, f"{page.url} is {scroll_width} px wide at {width} px"


def test_clerk_opens_the_guide_from_the_catalogue(
    open_tab: OpenTab, township_server: TownshipServer
) -> None:
    tab = open_tab()
    page = tab.page
    sign_in(page, township_server, CLERK)
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="事项目录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("事项目录")
    expect(page.get_by_text(re.compile(r"共 \d+ 个事项"))).to_be_visible()
    total = int(re.findall(r"共 (\d+) 个事项", page.inner_text("main"))[0])
    assert total >= 24, f"the demo catalogue has only {total} items"

    page.get_by_role("searchbox").fill("宅基地")
    page.get_by_role("button", name="查找").click()
    page.get_by_role("link", name=ITEM).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ITEM)
    page.get_by_role("link", name="办事指南").click()

    expect(page).to_have_url(re.compile(r"/guide/[0-9A-Z]{31}$"))
    expect_guide(page)
    expect(page.get_by_role("link", name="← 返回事项")).to_be_visible()
    expect(page.get_by_role("navigation", name="主菜单")).to_be_visible()  # still signed in
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "guide-1024.png", full_page=True)
    page.get_by_role("link", name="打印").click()
    expect(page).to_have_url(re.compile(r"\?print=1$"))
    expect(page.get_by_role("status")).to_contain_text("纸张选 A4")
    expect(page.get_by_role("link", name="打印")).to_have_count(0)
    tab.problems.assert_clean()


def test_anybody_reads_the_guide_on_a_phone_and_prints_it(
    open_tab: OpenTab, township_server: TownshipServer
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    tab = open_tab(width=360, height=740, mobile=True)
    page = tab.page
    page.goto(township_server.url(f"/catalog?q={quote('宅基地')}"))
    expect(page).to_have_url(re.compile(r"/signin\?next="))  # the catalogue is for staff ...
    code = guide_code(open_tab, township_server)
    response = page.goto(township_server.url(f"/guide/{code}"))  # ... the guide for all
    assert response is not None and response.status == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    expect_guide(page)
    expect(page.get_by_role("navigation", name="主菜单")).to_have_count(0)
    expect(page.get_by_role("banner")).to_contain_text("青山镇便民服务中心")
    fits_width(page, 360)
    page.screenshot(path=ARTIFACTS / "guide-360.png", full_page=True)

    # As it prints: 180 mm (A4 less its 15 mm margins) is 680 CSS px.
    page.set_viewport_size({"width": 680, "height": 962})
    page.emulate_media(media="print")
    expect(page.get_by_role("banner")).to_be_hidden()
    expect(page.get_by_role("link", name="打印")).to_be_hidden()
    expect_guide(page)
    cell = page.locator("table.materials td").first
    assert cell.evaluate("td => getComputedStyle(td).borderTopStyle") == "solid"
    assert cell.evaluate("td => getComputedStyle(td).color") == "rgb(0, 0, 0)"
    assert cell.evaluate("td => getComputedStyle(td.parentElement).breakInside") == "avoid"
    page.screenshot(path=ARTIFACTS / "guide-print.png", full_page=True)
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    (ARTIFACTS / "guide.pdf").write_bytes(pdf)
    box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert box, "no page size in the PDF"
    assert abs(float(box[1]) - 595.3) < 2 and abs(float(box[2]) - 841.9) < 2  # A4 in points
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2
    tab.problems.assert_clean()


def guide_code(open_tab: OpenTab, server: TownshipServer) -> str:
    """ITEM's implementation code, looked up by a clerk in another context."""
    clerk = open_tab()
    sign_in(clerk.page, server, CLERK)
    clerk.page.goto(server.url(f"/catalog?q={quote('宅基地')}"))
    clerk.page.get_by_role("link", name=ITEM).click()
    href = clerk.page.get_by_role("link", name="办事指南").get_attribute("href")
    assert href and href.startswith("/guide/"), href
    clerk.problems.assert_clean()
    return href.removeprefix("/guide/")
