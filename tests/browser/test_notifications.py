"""The unread badge: a notification made on the server (by `yichuang announce`, a separate
process, as an operator would) reaches an open page over server-sent events without a reload,
the service worker letting the stream pass; without JavaScript the badge is right after a reload."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from .conftest import OpenTab, TownshipServer, cli
from .test_signin import sign_in

CLERK = "zhen.clerk"


def announce(
    server: TownshipServer, title: str, user: str = CLERK, link: str = "/notifications"
) -> None:
    cli(server.data_dir, "announce", "--user", user, "--title", title, "--link", link)


def unread(page: Page) -> int:
    badge = page.locator("#notify-count")
    return 0 if badge.is_hidden() else int(badge.inner_text())


def test_a_new_notification_reaches_an_open_page(
    open_tab: OpenTab, township_server: TownshipServer
) -> None:
    tab = open_tab()
    page = tab.page
    sign_in(page, township_server, CLERK, township_server.logins[CLERK])
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    # The service worker now controls the page, and leaves the stream alone (pwa/sw/routes.js).
    with page.expect_response(lambda r: r.url.endswith("/notifications/stream")) as stream:
        page.goto(township_server.url("/cases"))
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    assert not stream.value.from_service_worker
    before = unread(page)
    title = f"测试消息 {uuid.uuid4().hex[:6]}"
    announce(township_server, title)
    # The stream polls every few seconds; no reload, no navigation.
    expect(page.locator("#notify-count")).to_have_text(str(before + 1), timeout=15_000)
    expect(page.locator("#notify-count")).to_be_visible()
    page.locator("a.notify-link").click()
    expect(page.get_by_text(title)).to_be_visible()
    tab.problems.assert_clean()


def test_without_javascript_the_badge_is_right_after_a_reload(
    open_tab: OpenTab, township_server: TownshipServer
) -> None:
    tab = open_tab(javascript=False)
    page = tab.page
    sign_in(page, township_server, CLERK, township_server.logins[CLERK])
    page.goto(township_server.url("/"))
    before = unread(page)
    announce(township_server, f"无脚本 {uuid.uuid4().hex[:6]}")
    page.reload()
    assert unread(page) == before + 1
    # Reading all of them with the plain form clears the badge.
    page.goto(township_server.url("/notifications"))
    page.get_by_role("button", name="全部标为已读").click()
    assert unread(page) == 0
    tab.problems.assert_clean()


def test_a_village_agent_sees_the_badge_in_the_offline_app(
    open_tab: OpenTab, township_server: TownshipServer
) -> None:
    """The /agent pages are static shells cached by the worker: the badge starts hidden and the
    script fills it, as on every other page."""
    agent = "zhen.agent2"
    tab = open_tab()
    page = tab.page
    page.goto(township_server.url("/signin?next=/agent"))
    sign_in(page, township_server, agent, township_server.logins[agent])
    expect(page).to_have_url(township_server.url("/agent"))
    link = page.locator("a.notify-link")
    expect(link).to_have_attribute("href", "/notifications")
    title = f"村代办消息 {uuid.uuid4().hex[:6]}"
    announce(township_server, title, user=agent)
    expect(page.locator("#notify-count")).to_be_visible(timeout=15_000)
    link.click()
    expect(page.get_by_text(title)).to_be_visible()
    tab.problems.assert_clean()
