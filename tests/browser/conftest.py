"""Fixtures for the browser journeys: a real township server, Chromium, one fresh page a test.

The server is started the way an operator starts it (`init`, `demo`, `serve` as subprocesses of
`python -m server`), on a free loopback port, with its own data directory. Chromium is Debian's
(`/usr/bin/chromium`); Playwright never downloads a browser here. Every page records what went
wrong in the browser (console errors, which include CSP violations, uncaught exceptions, failed
requests, HTTP errors) so a test can assert that nothing did.

Screenshots go to `test-artifacts/` at the top of the repository (git-ignored): a test that
fails leaves `test-artifacts/failures/<test>.png` behind, taken just before its page closed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    sync_playwright,
)

BROWSER_TESTS = Path(__file__).resolve().parent
REPO = BROWSER_TESTS.parents[1]
ARTIFACTS = REPO / "test-artifacts"

SERVER = [sys.executable, "-m", "server"]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
REGION = "990102101"
NODE_NAME = "青山镇便民服务中心"
INIT_ARGS = [
    *("--role", "township", "--region", REGION, "--name", NODE_NAME),
    *("--parent-region", REGION[:6], "--parent-name", "示范县"),
]
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
ACTION_TIMEOUT_MS = 5_000
NAVIGATION_TIMEOUT_MS = 10_000

# Chromium's own console line for a response with an error status, e.g.
# "Failed to load resource: the server responded with a status of 422 (Unprocessable Content)".
RESOURCE_STATUS = re.compile(r"^Failed to load resource: .* status of (\d{3})")

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


# --- marking ---------------------------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder drives Chromium: mark it `browser` (deselect with -m)."""
    for item in items:
        if item.path.is_relative_to(BROWSER_TESTS):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so the page fixture knows whether the test failed."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


# --- Chromium --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium. Missing: a failure on CI, a loud skip on a developer's machine."""
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path is None:
        message = (
            "Chromium missing: the browser tests need Debian's Chromium at /usr/bin/chromium. "
            "Install it with `sudo apt-get install chromium` (never `playwright install`)."
        )
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(f"!!! SKIPPING ALL BROWSER TESTS !!! {message}")
    return path


# --- the server ------------------------------------------------------------------------------


@dataclass
class TownshipServer:
    """A running `yichuang serve` of a township node loaded with the demo data."""

    base_url: str
    logins: dict[str, str]  # demo username -> password
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            pytest.fail(
                f"the server exited with code {code}; its log ends:\n{self.log_tail()}",
                pytrace=False,
            )


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [*SERVER, "--data", str(data), *args]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        shown = " ".join(command)
        pytest.fail(
            f"`{shown}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}", pytrace=False
        )
    return done


def parse_logins(text: str) -> dict[str, str]:
    """demo-logins.txt: `role username password name` a line; # starts a comment."""
    logins: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and not line.lstrip().startswith("#"):
            logins[parts[1]] = parts[2]
    return logins


def _health(base_url: str) -> bool:
    # No proxies, whatever the environment says: the server is on loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{base_url}/api/health", timeout=2) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return isinstance(body, dict) and body.get("status") == "ok"


@contextmanager
def started_township(data: Path) -> Iterator[TownshipServer]:
    """A demo township initialised in `data`, served by `yichuang serve` on a free loopback
    port until the block ends (or until the test stops it itself)."""
    cli(data, "init", *INIT_ARGS)
    cli(data, "demo")
    logins = parse_logins((data / "demo-logins.txt").read_text(encoding="utf-8"))
    assert {"zhen.admin", "zhen.clerk"} <= logins.keys(), f"demo logins: {sorted(logins)}"

    port = _free_loopback_port()
    log_path = data / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*SERVER, "--data", str(data), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = TownshipServer(f"http://127.0.0.1:{port}", logins, data, log_path, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _health(server.base_url):
            server.check_alive()
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the server did not answer /api/health within {START_TIMEOUT:.0f} s; "
                    f"its log ends:\n{server.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="session")
def township_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TownshipServer]:
    with started_township(tmp_path_factory.mktemp("township")) as server:
        yield server


# --- Playwright and pages --------------------------------------------------------------------
# Package scope, not session: see __init__.py (the sync API must be gone before async tests).


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


class Launch(Protocol):
    def __call__(self) -> BrowserContext: ...


def persistent(
    playwright: Playwright, chromium_path: str, profile: Path, opened: list[BrowserContext]
) -> Launch:
    """Chromium on one persistent profile folder (`user_data_dir`): each call starts a new
    browser run on it, as a phone's browser after a restart (the service worker, its caches and
    IndexedDB survive; page memory does not). Close a run before starting the next; every run
    is appended to `opened` for the caller to close."""

    def start() -> BrowserContext:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            viewport={"width": 412, "height": 915},
            is_mobile=True,
            has_touch=True,
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        opened.append(context)
        return context

    return start


@pytest.fixture
def launch(
    playwright: Playwright, chromium_path: str, tmp_path: Path, township_server: TownshipServer
) -> Iterator[Launch]:
    """`persistent` runs on a profile of this test's own, against the shared township."""
    contexts: list[BrowserContext] = []
    yield persistent(playwright, chromium_path, tmp_path / "profile", contexts)
    for context in contexts:
        context.close()
    township_server.check_alive()


@dataclass
class Problems:
    """What went wrong in one page, as the browser saw it."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    http_errors: list[tuple[int, str]] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _request_failed(self, request: Request) -> None:
        if request.failure == "net::ERR_ABORTED" and request.resource_type not in ("xhr", "fetch"):
            return  # a navigation cut short the page's own loads (the icon, typically)
        self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.http_errors.append((response.status, f"{response.request.method} {response.url}"))

    def assert_clean(self, *, allow_status: Collection[int] = ()) -> None:
        """No console error (a CSP violation is one), no uncaught exception, no failed request,
        no HTTP error but the statuses a test expects (whose console lines are then allowed)."""
        console = [
            text
            for text in self.console_errors
            if not ((match := RESOURCE_STATUS.match(text)) and int(match[1]) in allow_status)
        ]
        http = [
            f"{status} {what}" for status, what in self.http_errors if status not in allow_status
        ]
        assert not console, f"console errors: {console}"
        assert not self.page_errors, f"uncaught exceptions: {self.page_errors}"
        assert not self.failed_requests, f"failed requests: {self.failed_requests}"
        assert not http, f"unexpected HTTP errors: {http}"


@dataclass
class Tab:
    page: Page
    problems: Problems


class OpenTab(Protocol):
    def __call__(
        self, *, width: int = 1024, height: int = 768, javascript: bool = True, mobile: bool = False
    ) -> Tab: ...


@pytest.fixture
def open_tab(
    request: pytest.FixtureRequest, browser: Browser, township_server: TownshipServer
) -> Iterator[OpenTab]:
    """Open a page in a fresh browser context (no cookies); several may be open in one test."""
    township_server.check_alive()
    log_offset = township_server.log_size()
    tabs: list[Tab] = []

    def open_one(
        *, width: int = 1024, height: int = 768, javascript: bool = True, mobile: bool = False
    ) -> Tab:
        context = browser.new_context(
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            viewport={"width": width, "height": height},
            java_script_enabled=javascript,
            is_mobile=mobile,
            has_touch=mobile,
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        tab = Tab(context.new_page(), Problems())
        tab.problems.watch(tab.page)
        tabs.append(tab)
        return tab

    yield open_one

    reports = request.node.stash.get(REPORTS, {})
    failed = any(report.failed for report in reports.values())
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    for stale in (ARTIFACTS / "failures").glob(f"{name}*.png"):
        stale.unlink(missing_ok=True)  # from an earlier run: only this run's failures are shown
    for number, tab in enumerate(tabs):
        if failed and not tab.page.is_closed():
            suffix = f"-{number}" if len(tabs) > 1 else ""
            tab.page.screenshot(path=ARTIFACTS / "failures" / f"{name}{suffix}.png", full_page=True)
        tab.page.context.close()
    township_server.check_alive()
    log = township_server.log_since(log_offset)
    assert "Traceback" not in log, f"the server logged an exception during the test:\n{log}"


@pytest.fixture
def tab(open_tab: OpenTab) -> Tab:
    """The default page (1024x768, JavaScript on) with its problems."""
    return open_tab()


@pytest.fixture
def page(tab: Tab) -> Page:
    return tab.page


@pytest.fixture
def problems(tab: Tab) -> Problems:
    return tab.problems
