"""Sign in, sign out, first sign-in with a temporary password: as a person does it in Chromium.

Every journey runs in a fresh browser context. Journeys that post a form after signing in run
twice, with JavaScript (htmx, hx-boost) and without it: the pages are hypermedia first, so both
must work.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Error, Locator, Page, Response, expect

from .conftest import ARTIFACTS, OpenTab, Tab, TownshipServer

CLERK, CLERK_NAME = "zhen.clerk", "李晓燕"
ADMIN = "zhen.admin"
VILLAGE = "石桥村"
NEW_PASSWORD = "Shiqiao2026new"


class CsrfRefused(AssertionError):
    """The server refused a POST as a forgery (403, 页面已过期…)."""


# With htmx (boosted links and forms) and without JavaScript: both must work.
JS_MODES = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]


def unique_username() -> str:
    return f"t.{uuid.uuid4().hex[:10]}"


def unique_mobile() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


def submit(page: Page, button: Locator, *, status: int = 303) -> Response:
    """Click a form's button and check the status of the POST it sends."""
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        button.click()
    response = posted.value
    if response.status != status:
        try:
            body = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text()))[-400:]
        except Error:
            body = ""
        message = f"POST {response.url} answered {response.status}, not {status}: {body}"
        if response.status == 403 and "页面已过期" in body:
            raise CsrfRefused(message)
        pytest.fail(message, pytrace=False)
    return response


def sign_in(page: Page, server: TownshipServer, login: str, password: str) -> None:
    if not page.url.startswith(server.url("/signin")):
        page.goto(server.url("/signin"))
    page.get_by_label("用户名或手机号").fill(login)
    page.get_by_label("密码", exact=True).fill(password)
    submit(page, page.get_by_role("button", name="登录"))
    # Until the redirect has landed: a goto straight after would abort it (net::ERR_ABORTED).
    page.wait_for_url(lambda url: not url.startswith(server.url("/signin")))


def sign_out(page: Page) -> None:
    submit(page, page.get_by_role("button", name=re.compile(r"^退出")))


def expect_signin_page(page: Page) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    expect(page.get_by_label("用户名或手机号")).to_be_visible()


def fits_width(page: Page, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert isinstance(scroll_width, int)
    assert scroll_width <= width, f"{page.url} is {scroll_width} px wide at a {width} px viewport"


# --- signing in --------------------------------------------------------------------------------


def test_clerk_signs_in_and_sees_home_in_chinese(tab: Tab, township_server: TownshipServer) -> None:
    page = tab.page
    page.goto(township_server.url("/signin"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect_signin_page(page)
    assert page.evaluate("typeof htmx") == "object", "htmx did not load"
    page.evaluate("window.stillTheSamePage = true")

    sign_in(page, township_server, CLERK, township_server.logins[CLERK])

    expect(page).to_have_url(township_server.url("/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"您好，{CLERK_NAME}")
    main = page.get_by_role("main")
    expect(main).to_contain_text("窗口工作人员")
    expect(main).to_contain_text("青山镇便民服务中心")
    expect(page.get_by_role("heading", name="我的窗口")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="1 号窗口")).to_have_text(
        "1 号窗口 · 综合受理窗口（A 岗）"
    )
    expect(page).to_have_title(re.compile("^首页"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    # hx-boost did the navigation: the same document, htmx still loaded, no reload.
    assert page.evaluate("window.stillTheSamePage") is True, "the sign-in was not boosted by htmx"
    assert page.evaluate("typeof htmx") == "object"
    tab.problems.assert_clean()


def test_wrong_password_is_refused_in_chinese_and_keeps_the_login(
    tab: Tab, township_server: TownshipServer
) -> None:
    page = tab.page
    sign_in_status = 422
    page.goto(township_server.url("/signin"))
    page.get_by_label("用户名或手机号").fill(CLERK)
    page.get_by_label("密码", exact=True).fill("not-the-password-1")
    submit(page, page.get_by_role("button", name="登录"), status=sign_in_status)

    expect(page.get_by_role("alert")).to_contain_text("用户名（或手机号）与密码不匹配")
    expect(page.get_by_label("用户名或手机号")).to_have_value(CLERK)
    expect(page.get_by_label("密码", exact=True)).to_have_value("")
    expect(page).to_have_url(re.compile(r"/signin$"))
    tab.problems.assert_clean(allow_status={sign_in_status})

    # The right password on the same page still works: nothing was left broken.
    page.get_by_label("密码", exact=True).fill(township_server.logins[CLERK])
    submit(page, page.get_by_role("button", name="登录"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"您好，{CLERK_NAME}")


def test_sign_in_works_without_javascript(
    open_tab: OpenTab, township_server: TownshipServer
) -> None:
    tab = open_tab(javascript=False)
    page = tab.page
    sign_in(page, township_server, CLERK, township_server.logins[CLERK])

    expect(page).to_have_url(township_server.url("/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"您好，{CLERK_NAME}")
    expect(page.get_by_role("main")).to_contain_text("窗口工作人员")
    expect(page.get_by_role("listitem").filter(has_text="1 号窗口")).to_have_text(
        "1 号窗口 · 综合受理窗口（A 岗）"
    )
    tab.problems.assert_clean()


@pytest.mark.parametrize("javascript", JS_MODES)
def test_sign_out_returns_to_signin_and_home_needs_signing_in_again(
    open_tab: OpenTab, township_server: TownshipServer, javascript: bool
) -> None:
    tab = open_tab(javascript=javascript)
    page = tab.page
    sign_in(page, township_server, CLERK, township_server.logins[CLERK])
    expect(page.get_by_role("heading", level=1)).to_have_text(f"您好，{CLERK_NAME}")

    sign_out(page)

    expect(page).to_have_url(re.compile(r"/signin\?bye=1$"))
    expect(page.get_by_role("status")).to_contain_text("您已安全退出")
    expect_signin_page(page)
    page.goto(township_server.url("/"))
    expect(page).to_have_url(re.compile(r"/signin\?next=(/|%2F)$"))
    expect_signin_page(page)
    tab.problems.assert_clean()


# --- narrow and wide screens -----------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(360, 740), (1024, 768)], ids=["360px", "1024px"])
def test_pages_fit_the_screen(
    open_tab: OpenTab, township_server: TownshipServer, width: int, height: int
) -> None:
    """No horizontal scrolling on a phone; screenshots left in test-artifacts/ for people."""
    ARTIFACTS.mkdir(exist_ok=True)
    mobile = width < 640

    def check(page: Page, name: str) -> None:
        fits_width(page, width)
        page.screenshot(path=ARTIFACTS / f"{name}-{width}.png", full_page=True)

    clerk = open_tab(width=width, height=height, mobile=mobile)
    clerk.page.goto(township_server.url("/signin"))
    check(clerk.page, "signin")
    sign_in(clerk.page, township_server, CLERK, township_server.logins[CLERK])
    expect(clerk.page.get_by_role("heading", level=1)).to_have_text(f"您好，{CLERK_NAME}")
    check(clerk.page, "home")
    clerk.problems.assert_clean()

    admin = open_tab(width=width, height=height, mobile=mobile)
    sign_in(admin.page, township_server, ADMIN, township_server.logins[ADMIN])
    admin.page.get_by_role("navigation", name="主菜单").get_by_role("link", name="用户管理").click()
    expect(admin.page.get_by_role("heading", level=1)).to_have_text("用户管理")
    expect(admin.page.get_by_role("link", name=CLERK_NAME)).to_be_visible()
    check(admin.page, "users")
    admin.page.get_by_role("link", name="新增用户").click()
    expect(admin.page.get_by_role("heading", level=1)).to_have_text("新增用户")
    check(admin.page, "user-new")
    admin.problems.assert_clean()


# --- the admin creates an account ------------------------------------------------------------


def open_new_user_form(page: Page, server: TownshipServer) -> None:
    """As the admin: a bookmark to the form, the sign-in page first, then the form itself."""
    page.goto(server.url("/admin/users/new"))
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    sign_in(page, server, ADMIN, server.logins[ADMIN])
    expect(page).to_have_url(server.url("/admin/users/new"))
    expect(page.get_by_role("heading", level=1)).to_have_text("新增用户")


def choose_unit(page: Page, name: str) -> None:
    units = page.get_by_role("combobox", name="所属单位", exact=True)
    value = units.locator("option", has_text=name).get_attribute("value")
    assert value, f"no unit {name} to choose"
    units.select_option(value)


@pytest.mark.parametrize("javascript", JS_MODES)
def test_admin_creates_village_agent_who_must_change_the_temporary_password(
    open_tab: OpenTab, township_server: TownshipServer, javascript: bool
) -> None:
    tab = open_tab(javascript=javascript)
    page = tab.page
    username, name = unique_username(), "测试代办员"
    open_new_user_form(page, township_server)

    page.get_by_role("textbox", name="姓名", exact=True).fill(name)
    page.get_by_role("textbox", name="用户名", exact=True).fill(username)
    page.get_by_role("combobox", name="角色", exact=True).select_option(label="村代办员")
    choose_unit(page, VILLAGE)
    submit(page, page.get_by_role("button", name="创建并生成临时密码"), status=200)

    expect(page.get_by_role("heading", level=1)).to_have_text("用户已创建")
    expect(page.get_by_role("main")).to_contain_text(f"用户名 {username}")
    temporary = page.get_by_label("临时密码").inner_text().strip()
    assert re.fullmatch(r"[a-z0-9]{8,}", temporary), f"temporary password {temporary!r}"

    sign_out(page)
    expect(page.get_by_role("status")).to_contain_text("您已安全退出")
    sign_in(page, township_server, username, temporary)

    expect(page).to_have_url(township_server.url("/account/password"))
    expect(page.get_by_role("heading", level=1)).to_have_text("修改密码")
    expect(page.get_by_role("status")).to_contain_text("临时密码")
    # Nothing else is open until the password is changed.
    page.goto(township_server.url("/"))
    expect(page).to_have_url(township_server.url("/account/password"))

    page.get_by_role("textbox", name="当前密码", exact=True).fill(temporary)
    page.get_by_role("textbox", name="新密码", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("textbox", name="再输入一次新密码", exact=True).fill(NEW_PASSWORD)
    submit(page, page.get_by_role("button", name="保存新密码"))

    expect(page).to_have_url(township_server.url("/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"您好，{name}")
    expect(page.get_by_role("status")).to_contain_text("密码已修改")
    main = page.get_by_role("main")
    expect(main).to_contain_text("村代办员")
    expect(main).to_contain_text(VILLAGE)
    tab.problems.assert_clean()


@pytest.mark.parametrize("javascript", JS_MODES)
def test_new_user_with_a_bad_phone_is_refused_in_chinese_and_keeps_what_was_typed(
    open_tab: OpenTab, township_server: TownshipServer, javascript: bool
) -> None:
    tab = open_tab(javascript=javascript)
    page = tab.page
    username, name = unique_username(), "测试窗口员"
    open_new_user_form(page, township_server)

    page.get_by_role("textbox", name="姓名", exact=True).fill(name)
    page.get_by_role("textbox", name="用户名", exact=True).fill(username)
    page.get_by_role("textbox", name="手机号码", exact=True).fill("12345")
    page.get_by_role("combobox", name="角色", exact=True).select_option(label="窗口工作人员")
    submit(page, page.get_by_role("button", name="创建并生成临时密码"), status=422)

    expect(page.get_by_role("alert")).to_contain_text("有 1 处需要修改")
    phone = page.get_by_role("textbox", name="手机号码", exact=True)
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description(re.compile("^手机号码应为 11 位数字"))
    expect(phone).to_have_value("12345")
    expect(page.get_by_role("textbox", name="姓名", exact=True)).to_have_value(name)
    expect(page.get_by_role("textbox", name="用户名", exact=True)).to_have_value(username)
    role = page.get_by_role("combobox", name="角色", exact=True)
    expect(role.locator("option:checked")).to_have_text("窗口工作人员")

    phone.fill(unique_mobile())
    submit(page, page.get_by_role("button", name="创建并生成临时密码"), status=200)
    expect(page.get_by_role("heading", level=1)).to_have_text("用户已创建")
    tab.problems.assert_clean(allow_status={422})


def test_the_safety_net_notices_csp_violations_and_http_errors(
    tab: Tab, township_server: TownshipServer
) -> None:
    """What the other tests rely on: an inline script is blocked and noticed; so is a 404."""
    page, problems = tab.page, tab.problems
    page.goto(township_server.url("/signin"))
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.inlineScriptRan = true";
        document.body.append(script);
    }""")
    assert page.evaluate("window.inlineScriptRan") is None, "the CSP let an inline script run"
    for _ in range(20):  # console events arrive asynchronously
        if problems.console_errors:
            break
        page.wait_for_timeout(50)
    with pytest.raises(AssertionError, match="Content Security Policy"):
        problems.assert_clean()
    problems.console_errors.clear()

    page.goto(township_server.url("/no-such-page"))
    expect(page.get_by_role("heading", level=1)).to_have_text("页面不存在")
    with pytest.raises(AssertionError, match="404"):
        problems.assert_clean()
    problems.assert_clean(allow_status={404})
