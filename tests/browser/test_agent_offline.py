"""The village agent's app after one visit, with no network: the service worker's precache
holds the page shells, the scripts and the catalogue, and they survive a browser restart.

Chromium runs with a persistent profile (`user_data_dir`), is closed and started again, and
the context goes offline (`set_offline`) and the server is stopped before the second run.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect

from server.pwa.worker import SERVICE_WORKER

from .conftest import (
    Launch,
    TownshipServer,
    persistent,
    started_township,
)

AGENT = "zhen.agent1"


def sign_in(page: Page, server: TownshipServer, login: str, then: str = "/agent") -> None:
    page.goto(server.url(f"/signin?next={then}"))
    page.get_by_label("用户名或手机号").fill(login)
    page.get_by_label("密码", exact=True).fill(server.logins[login])
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(server.url(then))


def wait_for_worker(page: Page) -> str:
    """Until this version's worker controls the page and its cache is full; its cache name."""
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    return str(
        page.evaluate(
            """async (count) => {
              for (;;) {
                for (const name of await caches.keys()) {
                  const cache = await caches.open(name);
                  if ((await cache.keys()).length >= count) return name;
                }
                await new Promise((r) => setTimeout(r, 100));
              }
            }""",
            len(SERVICE_WORKER.precache),
        )
    )


@pytest.fixture
def lone_server(tmp_path: Path) -> Iterator[TownshipServer]:
    """A township of this test's own, which the test stops: then there is truly no network.
    (Playwright's offline switch reaches a restarted service worker only once it has attached to
    it, a race that a worker's first fetch can win.)"""
    with started_township(tmp_path / "township") as server:
        yield server


def catalogue_names(server: TownshipServer) -> list[str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(server.url("/api/catalog"), timeout=5) as response:
        return [item["name"] for item in json.loads(response.read())["items"]]


def test_agent_pages_and_catalogue_open_offline_after_a_restart(
    playwright: Playwright, chromium_path: str, tmp_path: Path, lone_server: TownshipServer
) -> None:
    server = lone_server
    names = catalogue_names(server)
    opened: list[BrowserContext] = []
    launch = persistent(playwright, chromium_path, tmp_path / "profile", opened)
    try:
        offline_journey(launch, server, names)
    finally:
        for context in opened:
            context.close()


def offline_journey(launch: Launch, server: TownshipServer, names: list[str]) -> None:
    context = launch()
    page = context.pages[0] if context.pages else context.new_page()
    sign_in(page, server, AGENT)
    cache = wait_for_worker(page)
    assert cache == f"yc-{SERVICE_WORKER.version}"
    # Shown once the page has kept who signed in (the offline pages' only source for it).
    expect(page.locator("[data-agent-status]")).to_contain_text("刘大山")
    context.close()
    server.process.terminate()  # no server, and the browser told it is offline
    server.process.wait(timeout=10)

    context = launch()
    context.set_offline(True)
    page = context.pages[0] if context.pages else context.new_page()
    response = page.goto(server.url("/agent"))
    assert response is not None and response.from_service_worker
    expect(page.locator("[data-catalog-list] li")).to_have_count(len(names))
    expect(page.locator("[data-catalog-list] a").first).to_have_text(names[0])
    expect(page.locator("[data-agent-status]")).to_contain_text("刘大山")
    expect(page.locator("[data-agent-status]")).to_contain_text("离线")

    # The other shells, by a boosted link and by typing the address.
    page.get_by_role("link", name="新建办件").first.click()
    expect(page).to_have_url(server.url("/agent/new"))
    expect(page.get_by_role("heading", name="新建办件")).to_be_visible()
    page.goto(server.url("/agent/outbox"))
    expect(page.get_by_role("heading", name="手机上的办件")).to_be_visible()

    # A page with personal data was never cached: the Chinese offline page instead.
    page.goto(server.url("/cases"))
    expect(page.get_by_role("heading", name="现在没有网络")).to_be_visible()


def test_the_worker_is_served_fresh_with_its_version_and_parts(
    township_server: TownshipServer,
) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(township_server.url("/sw.js"), timeout=5) as response:
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["Content-Type"].startswith("text/javascript")
        script = response.read().decode()
    assert script.startswith("/* 一窗 service worker")
    assert f'const VERSION = "{SERVICE_WORKER.version}";' in script
    parts = ("strategies.js", "routes.js", "outbox.js", "main.js")
    order = [script.index(f"// --- pwa/sw/{name}") for name in parts]
    assert order == sorted(order)
    with opener.open(township_server.url("/manifest.webmanifest"), timeout=5) as response:
        manifest = json.loads(response.read())
    assert manifest["name"] == "一窗·村代办"
    assert manifest["start_url"] == "/agent"
    assert manifest["display"] == "standalone"
    assert {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]} == {
        ("192x192", "any"),
        ("512x512", "any"),
        ("192x192", "maskable"),
        ("512x512", "maskable"),
    }
