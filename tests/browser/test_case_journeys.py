"""A promised case (承诺件) from the window to its papers, as the "cases" issue asks, with
JavaScript (htmx) and without:

1. the clerk finds the item, registers the applicant and the materials, accepts the case and
   prints the acceptance notice (受理通知书); the applicant then looks the case up, signed out,
   on the public progress page the notice's QR code leads to;
2. the clerk gives a one-time notice (一次性告知) of every missing material, prints it, records
   the supplement (补正) and accepts; the deadline counts from the acceptance;
3. an ID number with a wrong check digit is refused in Chinese, keeping everything else typed.

The applicants are invented: their resident ID numbers are computed here (GB 11643) in the
sequence block 99x that the demo data uses, and never belong to a real person.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Locator, Page, expect

from server.catalog.guide import guide_qr

from .conftest import ARTIFACTS, NODE_NAME, OpenTab, TownshipServer
from .test_signin import CLERK, JS_MODES, fits_width, sign_in, submit, unique_mobile

# A promised item of the demo catalogue (8 working days) and its four materials.
ITEM = "高龄津贴（老年人补贴）申请"
ITEM_SEARCH = "高龄津贴"
PROMISED_DAYS = 8
ID_CARD = "老年人本人居民身份证"
HUKOU = "居民户口簿"
FORM = "《高龄津贴申请表》"
BANK = "本人社会保障卡或银行账户（存折、银行卡）"
MATERIALS = (ID_CARD, HUKOU, FORM, BANK)

SERIAL = re.compile(r"^990102101-\d{6}-\d{5}-\d{2}$")
A4_PRINTABLE_PX = 680  # 210 mm less the paper's two 15 mm margins, at 96 CSS px an inch


# --- the applicant -----------------------------------------------------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def check_char(first17: str) -> str:
    """GB 11643's check character (ISO 7064 MOD 11-2), computed here rather than imported."""
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def resident_id(birth: dt.date, sequence: int) -> str:
    """An invented resident ID number (Beijing Chaoyang, sequence block 99x) that checks."""
    first17 = f"110105{birth:%Y%m%d}99{sequence % 10}"
    return first17 + check_char(first17)


def masked(number: str) -> str:
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


@dataclass(frozen=True)
class Applicant:
    name: str
    id_number: str
    phone: str
    address: str


def applicant(name: str, birth: dt.date, sequence: int) -> Applicant:
    return Applicant(name, resident_id(birth, sequence), unique_mobile(), "青山镇石桥村三组 12 号")


# --- small steps -------------------------------------------------------------------------------


def chinese_date(iso: str) -> str:
    """2026-03-05 as a paper prints it: 2026年3月5日."""
    day = dt.date.fromisoformat(iso)
    return f"{day.year}年{day.month}月{day.day}日"


def fact(scope: Page | Locator, term: str) -> Locator:
    """The <dd> beside a <dt> of a facts list."""
    return scope.locator(f"xpath=.//dt[normalize-space()='{term}']/following-sibling::dd[1]")


def choose_item(page: Page, javascript: bool) -> None:
    """From the main menu to the intake form of ITEM, found by part of its name."""
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="受理").click()
    expect(page).to_have_url(re.compile(r"/cases/new$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("受理办件")
    page.get_by_label("事项名称或编码").fill(ITEM_SEARCH)
    if javascript:  # htmx swaps the list as the clerk types
        expect(page.locator("#case-new-items li")).to_have_count(1)
    else:
        page.get_by_role("button", name="查找").click()
    page.get_by_role("link", name=ITEM, exact=True).click()
    expect(page.get_by_role("heading", level=2, name=ITEM)).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text(f"承诺件 · 承诺时限 {PROMISED_DAYS} 个工作日")


def fill_applicant(page: Page, person: Applicant) -> None:
    page.get_by_label("申请人类型").select_option(label="自然人")
    page.get_by_label("姓名或单位名称").fill(person.name)
    page.get_by_label("证件类型").select_option(label="居民身份证")
    page.get_by_label("证件号码").fill(person.id_number)
    page.get_by_label("手机号码").fill(person.phone)
    page.get_by_label("地址").fill(person.address)


def material(page: Page, name: str) -> Locator:
    return page.locator("fieldset.material").filter(
        has=page.locator("legend", has_text=re.compile(f"^{re.escape(name)}"))
    )


def tick(page: Page, received: dict[str, tuple[str, ...]]) -> None:
    """Tick what the applicant brought: {material: ("原件", "复印件")}."""
    for name, forms in received.items():
        for form in forms:
            material(page, name).get_by_label(form).check()


def register(page: Page) -> str:
    """Submit the intake form; the case page's serial."""
    submit(page, page.get_by_role("button", name="登记办件"))
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(SERIAL)
    serial = heading.inner_text().strip()
    expect(page.get_by_role("status")).to_contain_text(f"已登记办件，流水号 {serial}")
    expect(fact(page, "状态")).to_have_text("已提交")
    return serial


def command_form(page: Page, name: str) -> Locator:
    """Open the case page's small form of one command (a <details>) and return it."""
    summary = page.locator("summary", has_text=re.compile(f"^{re.escape(name)}$"))
    summary.click()
    return page.locator("details[open]").filter(has=summary)


def issue(page: Page, name: str, *, ticked: tuple[str, ...] = (), other: str = "") -> None:
    form = command_form(page, name)
    for label in ticked:
        form.get_by_label(label, exact=True).check()
    if other:
        form.get_by_label(re.compile("^其他材料")).fill(other)
    submit(page, form.get_by_role("button", name=f"确认{name}", exact=True))


def due_on_case_page(page: Page) -> str:
    """The due date the case page shows (2026-03-05), checking it counts all PROMISED_DAYS."""
    due = fact(page.locator("dl.facts").first, "办结期限")
    expect(due).to_contain_text(f"还剩 {PROMISED_DAYS} 个工作日")
    found = re.match(r"\d{4}-\d{2}-\d{2}", due.inner_text().strip())
    assert found, due.inner_text()
    return found[0]


def open_paper(page: Page, title: str) -> None:
    page.get_by_role("region", name="文书").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page).to_have_url(re.compile(r"/cases/[^/]+/papers/\w+\?seq=\d+$"))


def expect_paper_head(page: Page, server: TownshipServer, serial: str, person: Applicant) -> None:
    """What every paper carries: the centre, the serial, the masked ID and a drawn QR code of
    the public progress page for this serial."""
    paper = page.locator("article.paper")
    expect(paper.locator(".paper-centre")).to_have_text(NODE_NAME)
    expect(paper.locator(".paper-serial strong")).to_have_text(serial)
    expect(paper.locator(".paper-foot")).to_contain_text(NODE_NAME)
    expect(fact(paper, "申请人")).to_have_text(person.name)
    expect(fact(paper, "居民身份证")).to_have_text(masked(person.id_number))
    html = page.content()
    assert person.id_number not in html, "the paper shows the full ID number"
    assert person.id_number[6:14] not in html, "the paper shows the birth date of the ID number"

    progress = server.url(f"/progress?serial={serial}")
    qr = paper.get_by_role("img", name="扫码查询办理进度")
    expect(qr).to_be_visible()
    # The data: image was allowed by the CSP and decoded: it has a size of its own ...
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0"), "the QR code is not drawn"
    # ... and it is the code of this serial's progress page (the same encoder, the same URL).
    assert qr.get_attribute("src") == guide_qr(progress)[0], "the QR code encodes another URL"
    expect(paper.locator(".qr-url")).to_have_text(progress)


def expect_prints_on_a4(page: Page, shot: str) -> None:
    """As printed: no site header, menu, footer or the paper's own toolbar; 180 mm wide.
    A screenshot of the printed look is left in test-artifacts/ for people."""
    chrome = [
        page.get_by_role("banner"),
        page.get_by_role("navigation", name="主菜单"),
        page.get_by_role("contentinfo"),
        page.get_by_role("link", name="← 返回办件"),
    ]
    for part in chrome:
        expect(part).to_be_visible()  # on screen, so that hidden below means the print CSS
    page.set_viewport_size({"width": A4_PRINTABLE_PX, "height": 962})
    page.emulate_media(media="print")
    for part in chrome:
        expect(part).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("img", name="扫码查询办理进度")).to_be_visible()
    fits_width(page, A4_PRINTABLE_PX)
    box = page.locator("article.paper").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= A4_PRINTABLE_PX, box
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{shot}-print.png", full_page=True)
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 1024, "height": 768})


def back_to_case(page: Page, serial: str) -> None:
    page.get_by_role("link", name="← 返回办件").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(serial)


def accepted_on(page: Page) -> str:
    """The acceptance day the case page shows (2026-03-05)."""
    return fact(page.locator("dl.facts").first, "受理时间").inner_text().strip()[:10]


# --- the journeys ------------------------------------------------------------------------------


@pytest.mark.parametrize("javascript", JS_MODES)
def test_clerk_takes_a_promised_case_from_the_item_search_to_the_printed_acceptance_notice(
    open_tab: OpenTab, township_server: TownshipServer, javascript: bool
) -> None:
    tab = open_tab(javascript=javascript)
    page = tab.page
    person = applicant("孙玉兰", dt.date(1941, 5, 17), 1)
    sign_in(page, township_server, CLERK, township_server.logins[CLERK])

    choose_item(page, javascript)
    fill_applicant(page, person)
    tick(page, {ID_CARD: ("原件", "复印件"), HUKOU: ("原件",), FORM: ("原件",), BANK: ("复印件",)})
    serial = register(page)
    expect(fact(page, "办件类型")).to_have_text("承诺件")
    expect(page.get_by_text(masked(person.id_number))).to_be_visible()
    expect(page.locator("dl.facts").first.get_by_text("办结期限")).to_have_count(0)

    issue(page, "受理")
    expect(fact(page, "状态")).to_have_text("已受理")
    due, accepted = due_on_case_page(page), accepted_on(page)
    expect(page.get_by_role("status")).to_have_text(f"已受理，承诺 {due} 前办结。")

    open_paper(page, "受理通知书")
    expect_paper_head(page, township_server, serial, person)
    expect(fact(page, "承诺时限")).to_have_text(f"{PROMISED_DAYS} 个工作日")
    expect(fact(page, "承诺办结日期")).to_have_text(f"{chinese_date(due)}前")
    expect(fact(page, "受理日期")).to_have_text(chinese_date(accepted))
    expect(page.locator("table.paper-table tbody tr")).to_have_text(
        [
            re.compile(f"1\\s*{re.escape(ID_CARD)}\\s*原件、复印件"),
            re.compile(f"2\\s*{re.escape(HUKOU)}\\s*原件"),
            re.compile(f"3\\s*{re.escape(FORM)}\\s*原件"),
            re.compile(f"4\\s*{re.escape(BANK)}\\s*复印件"),
        ]
    )
    expect_prints_on_a4(page, "paper-acceptance")
    tab.problems.assert_clean()

    # The applicant scans the QR code at home: signed out, the serial already filled in.
    home = open_tab(javascript=javascript, width=360, height=740, mobile=True)
    home.page.goto(township_server.url(f"/progress?serial={serial}"))
    expect(home.page.get_by_role("heading", level=1)).to_have_text("办件查询")
    expect(home.page.get_by_role("navigation", name="主菜单")).to_have_count(0)
    expect(home.page.get_by_label("办事流水号")).to_have_value(serial)
    home.page.get_by_label("手机号后四位").fill(person.phone[-4:])
    submit(home.page, home.page.get_by_role("button", name="查询"), status=200)
    expect(home.page.get_by_role("status")).to_contain_text(serial)
    expect(fact(home.page, "办理事项")).to_have_text(f"{ITEM}（承诺件）")
    expect(fact(home.page, "当前状态")).to_have_text("已受理")
    expect(fact(home.page, "承诺办结日期")).to_have_text(f"{due}前")
    assert person.name not in home.page.content(), "the public page shows the applicant's name"
    fits_width(home.page, 360)
    home.problems.assert_clean()


@pytest.mark.parametrize("javascript", JS_MODES)
def test_a_one_time_notice_case_is_accepted_after_the_supplement(
    open_tab: OpenTab, township_server: TownshipServer, javascript: bool
) -> None:
    tab = open_tab(javascript=javascript)
    page = tab.page
    person = applicant("周德明", dt.date(1943, 11, 2), 2)
    other = "村委会出具的生存状况证明"
    missing = [HUKOU, BANK, other]
    sign_in(page, township_server, CLERK, township_server.logins[CLERK])

    choose_item(page, javascript)
    fill_applicant(page, person)
    tick(page, {ID_CARD: ("原件", "复印件"), FORM: ("原件",)})
    serial = register(page)

    issue(page, "一次性告知", ticked=(HUKOU, BANK), other=other)
    expect(page.get_by_role("status")).to_have_text("已一次性告知。当前状态：待补正")
    facts = page.locator("dl.facts").first
    expect(fact(facts, "状态")).to_have_text("待补正")
    asked = fact(facts, "待补正材料")  # all three, in any order, ；between ("、" is in BANK's)
    expect(asked).to_have_text(re.compile(f"^.{{{len('；'.join(missing))}}}$"))
    for name in missing:
        expect(asked).to_contain_text(name)
    expect(facts.get_by_text("办结期限")).to_have_count(0)  # not accepted: no clock runs
    expect(facts.get_by_text("受理时间")).to_have_count(0)

    open_paper(page, "一次性告知书")
    expect_paper_head(page, township_server, serial, person)
    listed = page.locator("ol.paper-list li")
    expect(listed).to_have_count(len(missing))  # every missing material, at once
    assert sorted(listed.all_inner_texts()) == sorted(missing)
    expect(page.locator("article.paper")).to_contain_text("补齐补正期间不计入办理时限")
    expect_prints_on_a4(page, "paper-one-time-notice")
    back_to_case(page, serial)

    issue(page, "补正", ticked=tuple(missing))
    expect(fact(page, "状态")).to_have_text("已提交")
    expect(page.locator("dl.facts").first.get_by_text("待补正材料")).to_have_count(0)
    expect(page.locator("dl.facts").first.get_by_text("办结期限")).to_have_count(0)

    issue(page, "受理")
    expect(fact(page, "状态")).to_have_text("已受理")
    due = due_on_case_page(page)  # all PROMISED_DAYS left: the clock started at acceptance
    accepted = accepted_on(page)
    expect(page.locator("ol.timeline > li > strong")).to_have_text(
        ["提交", "一次性告知", "补正", "受理"]
    )

    open_paper(page, "受理通知书")
    expect_paper_head(page, township_server, serial, person)
    expect(fact(page, "受理日期")).to_have_text(chinese_date(accepted))
    expect(fact(page, "承诺办结日期")).to_have_text(f"{chinese_date(due)}前")
    back_to_case(page, serial)
    expect(page.get_by_role("region", name="文书").get_by_role("link")).to_have_text(
        ["一次性告知书", "受理通知书"]
    )
    tab.problems.assert_clean()


@pytest.mark.parametrize("javascript", JS_MODES)
def test_a_wrong_id_check_digit_is_refused_and_the_rest_is_kept(
    open_tab: OpenTab, township_server: TownshipServer, javascript: bool
) -> None:
    tab = open_tab(javascript=javascript)
    page = tab.page
    person = applicant("吴桂香", dt.date(1938, 2, 28), 3)
    right = person.id_number[-1]
    wrong = person.id_number[:-1] + ("0" if right != "0" else "1")
    sign_in(page, township_server, CLERK, township_server.logins[CLERK])

    choose_item(page, javascript)
    fill_applicant(page, person)
    page.get_by_label("证件号码").fill(wrong)
    tick(page, {ID_CARD: ("原件", "复印件"), FORM: ("原件",)})
    submit(page, page.get_by_role("button", name="登记办件"), status=422)

    expect(page.get_by_role("alert")).to_have_text("有 1 处需要修改，请看下面标红的地方。")
    number = page.get_by_label("证件号码")
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(number).to_have_accessible_description("身份证号码校验位不对，请对照身份证逐位核对")
    expect(number).to_have_value(wrong)
    # Everything else is as the clerk left it.
    expect(page.get_by_label("姓名或单位名称")).to_have_value(person.name)
    expect(page.get_by_label("手机号码")).to_have_value(person.phone)
    expect(page.get_by_label("地址")).to_have_value(person.address)
    expect(page.get_by_label("申请人类型")).to_have_value("natural")
    expect(page.get_by_label("证件类型")).to_have_value("resident_id")
    expect(page.get_by_role("heading", level=2, name=ITEM)).to_be_visible()
    for name, form, checked in [
        (ID_CARD, "原件", True),
        (ID_CARD, "复印件", True),
        (FORM, "原件", True),
        (HUKOU, "原件", False),
        (BANK, "复印件", False),
    ]:
        expect(material(page, name).get_by_label(form)).to_be_checked(checked=checked)

    number.fill(person.id_number)  # corrected, the same form goes through
    register(page)
    expect(page.get_by_text(masked(person.id_number))).to_be_visible()
    tab.problems.assert_clean(allow_status=(422,))
