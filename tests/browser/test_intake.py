"""A clerk takes a promised case at the window: finds the item, fills in the applicant, ticks
the materials, registers the case and accepts it; with JavaScript (htmx) and without."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, OpenTab, TownshipServer
from .test_signin import CLERK, JS_MODES, fits_width, sign_in, submit

ITEM = "城乡居民基本养老保险待遇领取申请"
ID_NUMBER = "11010519491231002X"
SERIAL = re.compile(r"990102101-\d{6}-\d{5}-\d{2}")


@pytest.mark.parametrize("javascript", JS_MODES)
def test_clerk_registers_and_accepts_a_promised_case(
    open_tab: OpenTab, township_server: TownshipServer, javascript: bool
) -> None:
    width = 360
    tab = open_tab(javascript=javascript, width=width, height=740, mobile=True)
    page = tab.page
    sign_in(page, township_server, CLERK, township_server.logins[CLERK])
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="受理").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("受理办件")

    search = page.get_by_label("事项名称或编码")
    search.fill("养老保险待遇")
    if javascript:  # htmx swaps the list as the clerk types
        expect(page.locator("#case-new-items")).not_to_contain_text("临时救助")
    else:
        page.get_by_role("button", name="查找").click()
    page.get_by_role("link", name=ITEM).click()
    expect(page.get_by_role("heading", level=2, name=ITEM)).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text("承诺件")

    page.get_by_label("姓名或单位名称").fill("刘桂芳")
    page.get_by_label("证件号码").fill(ID_NUMBER)
    page.get_by_label("手机号码").fill("13912345678")
    page.get_by_label("地址").fill("青山镇石桥村五组 8 号")
    for group in page.locator("fieldset.material").all():
        group.get_by_label("原件").check()
    page.locator("fieldset.material").first.get_by_label("复印件").check()
    if javascript:
        ARTIFACTS.mkdir(exist_ok=True)
        fits_width(page, width)
        page.screenshot(path=ARTIFACTS / f"case-new-{width}.png", full_page=True)

    submit(page, page.get_by_role("button", name="登记办件"))
    expect(page.get_by_role("heading", level=1)).to_have_text(SERIAL)
    expect(page.get_by_role("status")).to_contain_text("已登记办件")
    expect(page.get_by_text("110105********002X")).to_be_visible()
    expect(page.locator("ol.timeline")).to_contain_text("提交")

    page.locator("summary", has_text=re.compile(r"^受理$")).click()
    submit(page, page.get_by_role("button", name="确认受理", exact=True))
    expect(page.get_by_role("status")).to_contain_text(
        re.compile(r"已受理，承诺 \d{4}-\d{2}-\d{2} 前办结")
    )
    facts = page.locator("dl.facts").first
    expect(facts).to_contain_text("办结期限")
    expect(facts).to_contain_text(re.compile(r"还剩 \d+ 个工作日|今天到期"))
    expect(facts).to_contain_text("已受理")
    expect(page.locator("ol.timeline")).to_contain_text("受理")
    if javascript:
        fits_width(page, width)
        page.screenshot(path=ARTIFACTS / f"case-show-{width}.png", full_page=True)
    tab.problems.assert_clean()
