"""Bytes of the village agent's first and repeat visit to /agent, as Chromium counts them.

Starts a real township node with demo data (and, when `caddy` is installed, Caddy in front of
it with the repository's Caddyfile: HTTPS with its internal CA, `encode zstd gzip`), then
drives headless Chromium (Debian's /usr/bin/chromium) through Playwright:

- first visit: a fresh profile opens /signin?next=/agent, signs in as a village agent, lands on
  /agent, and waits until the service worker controls the page and has filled its cache (the
  precache: shell, scripts, styles, icons, the agent's pages, the catalogue);
- repeat visit: a new tab of the same profile opens /agent again.

Bytes are Chromium's own: for every request of the page and of its service worker that went
over the network, the encoded body plus the response headers that Playwright reads from the
DevTools protocol's Network events (`request.sizes()`, from encodedDataLength); requests the
worker or the HTTP cache answered are counted apart, with no bytes. Chromium trusts Caddy's
certificate by its key (`--ignore-certificate-errors-spki-list`), not by ignoring errors,
which would keep every HTTPS response out of the HTTP cache. Over HTTP/2 (Caddy) the
header sizes are not reported, so those figures are bodies only. Figures only, no pass/fail:
record them in docs/BENCHMARKS.md against the 150 KB budget of issue 6.

    python bench/pwa.py [--detail]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from demo_node import demo_township, free_port, machine_line
from playwright.sync_api import BrowserContext, Page, Request, sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
AGENT = "zhen.agent1"
BUDGET = 150 * 1024
CONTROLLED = """new Promise((ok) => navigator.serviceWorker.controller ? ok() :
  navigator.serviceWorker.addEventListener("controllerchange", () => ok()))"""
PRECACHED = """async () => {
  for (;;) {
    const names = await caches.keys();
    if (names.length && (await (await caches.open(names[0])).match("/api/catalog"))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}"""


class Tally:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, int]] = []
        self.sent = 0  # request headers and bodies (upload)
        self.bodies = 0  # encoded response bodies alone
        self.local = 0  # requests answered inside the browser (worker, HTTP cache)

    def record(self, request: Request) -> None:
        sizes = request.sizes()
        response = request.response()
        body = max(sizes["responseBodySize"], 0)
        if response is None or response.from_service_worker or (body == 0 and response.ok):
            # Answered in the browser: by the worker, or from the HTTP cache (an encoded body of
            # 0 bytes on a 200). A revalidation that the HTTP cache turned into a 200 lands
            # here too, so its few hundred bytes of 304 headers are not counted.
            self.local += 1
            return
        size = body + max(sizes["responseHeadersSize"], 0)
        self.sent += max(sizes["requestHeadersSize"], 0) + max(sizes["requestBodySize"], 0)
        self.bodies += max(sizes["responseBodySize"], 0)
        who = "worker" if request.service_worker else "page"
        self.rows.append((who, request.url.split("//", 1)[1].split("/", 1)[1], size))

    def total(self) -> int:
        """Downloaded: encoded bodies and response headers."""
        return sum(size for _, _, size in self.rows)

    def report(self, title: str, detail: bool) -> None:
        by_kind: dict[str, int] = defaultdict(int)
        for _, path, size in self.rows:
            bare = path.split("?")[0]
            by_kind[bare.rsplit(".", 1)[-1] if bare.startswith("static/") else bare] += size
        print(
            f"{title}: {len(self.rows)} requests over the network ({self.local} more answered "
            f"in the browser), {self.total():,} B down "
            f"({self.total() / BUDGET:.0%} of the 150 KB budget; bodies {self.bodies:,} B, "
            f"the rest response headers), {self.sent:,} B up"
        )
        workers = sum(size for who, _, size in self.rows if who == "worker")
        print(f"    of which the service worker's own fetches: {workers:,} B")
        for kind, size in sorted(by_kind.items(), key=lambda kv: -kv[1]):
            print(f"    {kind:<24}{size:>9,}")
        if detail:
            for who, path, size in self.rows:
                print(f"      {who:<7}{size:>7,}  {path}")


def sign_in(page: Page, base: str, password: str) -> None:
    page.goto(f"{base}/signin?next=/agent")
    page.get_by_label("用户名或手机号").fill(AGENT)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/agent")


def visits(context: BrowserContext, base: str, password: str) -> tuple[Tally, Tally]:
    first = Tally()
    context.on("requestfinished", first.record)
    page = context.new_page()
    sign_in(page, base, password)
    page.evaluate(CONTROLLED)
    page.evaluate(PRECACHED)
    page.wait_for_timeout(500)  # the shells' background revalidations
    context.remove_listener("requestfinished", first.record)
    page.close()
    repeat = Tally()
    context.on("requestfinished", repeat.record)
    page = context.new_page()
    page.goto(f"{base}/agent")
    page.locator("[data-catalog-list] li").first.wait_for()
    page.wait_for_timeout(500)
    context.remove_listener("requestfinished", repeat.record)
    return first, repeat


@contextmanager
def caddy_in_front(upstream: str) -> Iterator[str | None]:
    """Caddy with the repository's Caddyfile on free loopback ports; None when not installed."""
    binary = shutil.which("caddy")
    if binary is None:
        yield None
        return
    with tempfile.TemporaryDirectory() as home:
        https_port, http_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("YICHUANG_")} | {
            "HOME": home,
            "XDG_DATA_HOME": f"{home}/data",
            "XDG_CONFIG_HOME": f"{home}/config",
            "YICHUANG_HOST": "127.0.0.1",
            "YICHUANG_BIND": "127.0.0.1",
            "YICHUANG_HTTP_PORT": str(http_port),
            "YICHUANG_HTTPS_PORT": str(https_port),
            "YICHUANG_UPSTREAM": upstream.removeprefix("http://"),
            "YICHUANG_CA_DIR": f"{home}/data/caddy/pki/authorities/yichuang",
            "YICHUANG_CADDY_ADMIN": "off",
        }
        process = subprocess.Popen(
            [binary, "run", "--config", "Caddyfile", "--adapter", "caddyfile"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"https://127.0.0.1:{https_port}"
        try:
            for _ in range(100):
                try:
                    if httpx.get(f"{base}/api/health", verify=False, timeout=1).is_success:  # noqa: S501
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(10)


def trust(base: str) -> list[str]:
    """Chromium's arguments; for Caddy, its certificate is trusted by its public key (as a phone
    that installed the LAN CA trusts it). `--ignore-certificate-errors` would not do: Chromium
    keeps nothing from a connection with an ignored certificate error in its HTTP cache, so the
    worker's precache would download again what the page had just loaded."""
    if not base.startswith("https://"):
        return ARGS
    host, port = base.removeprefix("https://").split(":")
    cert = x509.load_pem_x509_certificate(ssl.get_server_certificate((host, int(port))).encode())
    key = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    pin = base64.b64encode(hashlib.sha256(key).digest()).decode()
    return [*ARGS, f"--ignore-certificate-errors-spki-list={pin}"]


def run(label: str, base: str, password: str, detail: bool) -> None:
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=trust(base))
        context = browser.new_context(locale="zh-CN")
        first, repeat = visits(context, base, password)
        print(f"\n## {label} ({base})")
        first.report("first visit (sign-in, /agent, precache)", detail)
        repeat.report("repeat visit (/agent in a new tab)", detail)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detail", action="store_true", help="list every request")
    detail = parser.parse_args().detail
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=True)
    print(machine_line(version.stdout.strip()))
    with demo_township() as node:
        password = node.logins[AGENT]
        run("the server itself (Starlette GZip)", node.base_url, password, detail)
        with caddy_in_front(node.base_url) as base:
            if base is None:
                print("\n(caddy not installed: no figures through Caddy)")
            else:
                run("through Caddy (HTTPS, encode zstd gzip)", base, password, detail)


if __name__ == "__main__":
    main()
