"""Web Push in the browser (an enhancement, DESIGN.md §8).

The service worker's `push` handler: Chromium's DevTools protocol hands the installed worker
a push message (`ServiceWorker.deliverPushMessage`) shaped as server/notify/push.py makes it,
and the page asks the registration which notifications are shown. The click on a notification
is left untested: no protocol method clicks one, and a synthetic `notificationclick` may
neither wait nor open a window.

Subscribing from the preferences page: Chromium subscribes only through Google's push service
(its endpoint is the browser's choice, so the stand-in push service of
tests/http/test_notify_push.py cannot take its place), and that service is unreachable here
as in mainland China. The test shows what a person there sees: the button says the push
service cannot be reached, and nothing half-made is registered with the server.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import CDPSession, Page, expect

from server.notify.push import push_payload

from .conftest import Launch, OpenTab, Problems, TownshipServer
from .test_notifications import announce
from .test_signin import sign_in

CLERK = "zhen.clerk"
SHOWN = """navigator.serviceWorker.ready
  .then((registration) => registration.getNotifications())
  .then((shown) => shown.map((n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data})))"""


@dataclass
class Worker:
    """The site's service worker as DevTools sees it."""

    page: Page
    cdp: CDPSession
    origin: str
    registration: str
    seen: list[dict[str, Any]]  # DevTools' reports on the worker: versions, errors

    def push(self, data: str) -> list[dict[str, Any]]:
        """Deliver one push message; wait until the worker shows a new notification.
        DevTools delivers without an answer, and under a full suite's load it has dropped a
        message now and then (the worker running and activated, no error, nothing shown), as a
        push service's delivery can fail too: a message not shown in 10 s is delivered again,
        three times at most, which the one-tag notification makes harmless. A failure says
        what DevTools reported of the worker and the page's notification permission."""
        before = self.page.evaluate(SHOWN)
        for _ in range(3):
            self.cdp.send(
                "ServiceWorker.deliverPushMessage",
                {"origin": self.origin, "registrationId": self.registration, "data": data},
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                shown: list[dict[str, Any]] = self.page.evaluate(SHOWN)
                if shown and shown != before:
                    return shown
                self.page.wait_for_timeout(50)
        permission = self.page.evaluate("Notification.permission")
        raise AssertionError(
            f"no new notification after the push {data!r}: {before}; "
            f"permission: {permission}; worker: {self.seen}"
        )

    def fire_sync(self) -> None:
        """Background Sync's `sync` event (tag yc-outbox), as the browser fires it when a link
        appears."""
        self.cdp.send(
            "ServiceWorker.dispatchSyncEvent",
            {
                "origin": self.origin,
                "registrationId": self.registration,
                "tag": "yc-outbox",
                "lastChance": False,
            },
        )

    def forget_earlier_news(self) -> None:
        """Have what was unread before the test announced, and close what is shown."""
        while self.page.evaluate(CHECK):
            pass
        self.page.evaluate(CLOSE_ALL)


def said(note: dict[str, Any]) -> tuple[str, str]:
    return note["body"], note["data"]["link"]


def site_worker(page: Page, origin: str) -> Worker:
    """The worker registered for the whole site, once it is active."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    cdp = page.context.new_cdp_session(page)
    found: list[dict[str, Any]] = []
    seen: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: found.extend(e["registrations"]))
    cdp.on("ServiceWorker.workerVersionUpdated", lambda e: seen.extend(e["versions"]))
    cdp.on("ServiceWorker.workerErrorReported", lambda e: seen.append(e["errorMessage"]))
    cdp.send("ServiceWorker.enable")  # reports the registrations there are
    for _ in range(100):
        if found:
            break
        page.wait_for_timeout(50)
    (registration,) = [r for r in found if r["scopeURL"] == origin + "/" and not r["isDeleted"]]
    return Worker(page, cdp, origin, str(registration["registrationId"]), seen)


def test_a_push_shows_the_unread_count_and_keeps_the_link(
    open_tab: OpenTab, township_server: TownshipServer
) -> None:
    tab = open_tab()
    page, origin = tab.page, township_server.base_url
    page.context.grant_permissions(["notifications"], origin=origin)
    sign_in(page, township_server, CLERK, township_server.logins[CLERK])
    worker = site_worker(page, origin)

    (note,) = worker.push(push_payload(3, "/cases/990102101-20261202-0001"))
    assert note == {
        "title": "一窗 · 新消息",
        "body": "您有 3 条未读消息，点击查看。",
        "tag": "yichuang-unread",
        "data": {"link": "/cases/990102101-20261202-0001"},
    }
    # The next push replaces it (one tag): never a pile of notifications.
    (note,) = worker.push(push_payload(4, "/notifications"))
    assert said(note) == ("您有 4 条未读消息，点击查看。", "/notifications")
    # Whatever else arrives still tells the user, in Chinese, and never leads off the site.
    (note,) = worker.push("不是 JSON")
    assert said(note) == ("您有新消息，点击查看。", "/notifications")
    (note,) = worker.push(json.dumps({"count": 2, "link": "//elsewhere.example/x"}))
    assert said(note) == ("您有 2 条未读消息，点击查看。", "/notifications")
    tab.problems.assert_clean()


def test_subscribing_where_the_push_service_is_unreachable(
    launch: Launch, township_server: TownshipServer
) -> None:
    context = launch()  # a profile of its own: Chromium has no push in a private window
    page = context.pages[0] if context.pages else context.new_page()
    problems = Problems()
    problems.watch(page)
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    context.grant_permissions(["notifications"], origin=township_server.base_url)
    sign_in(page, township_server, CLERK, township_server.logins[CLERK])
    page.goto(township_server.url("/notifications"))
    page.get_by_role("link", name="消息设置").click()  # a boosted navigation
    expect(page.get_by_role("heading", name="消息设置")).to_be_visible()
    expect(page.get_by_role("button", name="在本设备接收推送")).to_be_visible()
    button = page.locator("button[data-push-subscribe]")
    button.evaluate("(b) => { b.dataset.pushWait = '1000'; }")  # the page waits 15 s
    posted.clear()
    button.click()
    expect(button).to_have_text(
        re.compile("推送服务暂时连不上，消息仍会在消息中心显示|本设备暂不能接收推送")
    )
    expect(button).to_be_disabled()
    assert not [url for url in posted if url.endswith("/api/push/subscriptions")]
    expect(page.locator("#notify-count")).to_be_attached()  # the centre is still there
    problems.assert_clean()


CHECK = """() => new Promise((resolve) => {
  const channel = new MessageChannel();
  channel.port1.onmessage = (event) => resolve(event.data.shown);
  navigator.serviceWorker.controller.postMessage("notify-check", [channel.port2]);
})"""
CLOSE_ALL = """navigator.serviceWorker.ready
  .then((registration) => registration.getNotifications())
  .then((shown) => shown.forEach((n) => n.close()))"""
UNREAD = re.compile(r"您有 (\d+) 条未读消息，点击查看。")


def shown_now(worker: Worker) -> dict[str, Any]:
    """The one notification the worker shows (it waits for it to appear)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown: list[dict[str, Any]] = worker.page.evaluate(SHOWN)
        if shown:
            (note,) = shown
            return note
        worker.page.wait_for_timeout(50)
    raise AssertionError(f"no notification; worker: {worker.seen}")


def test_every_sync_checks_the_message_centre_where_notifications_are_allowed(
    open_tab: OpenTab, township_server: TownshipServer
) -> None:
    """No push service (a phone in mainland China): the worker fetches the message centre on
    Background Sync and after the page's flush, and shows what is new once."""
    agent, server = "zhen.agent3", township_server
    tab = open_tab(width=412, height=915, mobile=True)
    page = tab.page
    page.context.grant_permissions(["notifications"], origin=server.base_url)
    page.goto(server.url("/signin?next=/agent"))
    sign_in(page, server, agent, server.logins[agent])
    worker = site_worker(page, server.base_url)
    expect(page.locator("[data-sync-status]")).not_to_contain_text("同步…")
    worker.forget_earlier_news()

    # Background Sync (here fired by DevTools, as the browser does when a link appears).
    announce(server, "县级结果已返回（测试）", user=agent, link="/agent/outbox")
    worker.fire_sync()
    note = shown_now(worker)
    assert (note["title"], note["tag"], note["data"]) == (
        "一窗 · 新消息",
        "yichuang-unread",
        {"link": "/agent/outbox"},
    )
    first = UNREAD.fullmatch(note["body"])
    assert first is not None, note
    # Announced once: the next check finds nothing new and shows nothing.
    page.evaluate(CLOSE_ALL)
    assert page.evaluate(CHECK) is False
    assert page.evaluate(SHOWN) == []

    # The page's own flush (the 同步 button) checks too; the newest message gives the link.
    announce(server, "又一条消息（测试）", user=agent, link="/agent")
    page.get_by_role("button", name="同步", exact=True).click()
    note = shown_now(worker)
    second = UNREAD.fullmatch(note["body"])
    assert second is not None and int(second[1]) == int(first[1]) + 1, note
    assert note["data"] == {"link": "/agent"}
    tab.problems.assert_clean()

    # Where notifications are not allowed, nothing is shown (the sync bar says so instead).
    other = open_tab(width=412, height=915, mobile=True)
    other.page.goto(server.url("/signin?next=/agent"))
    sign_in(other.page, server, agent, server.logins[agent])
    announce(server, "不弹出的消息（测试）", user=agent)
    site_worker(other.page, server.base_url)
    assert other.page.evaluate(CHECK) is False
    expect(other.page.locator("[data-sync-fallback]")).to_contain_text("未允许系统通知")
    other.problems.assert_clean()
