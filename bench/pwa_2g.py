"""Time to usable for the village agent's offline app on a throttled 2G profile.

The profile is 250 kbit/s (31,250 B/s) each way with 300 ms of latency per request. `--link`:

- `cdp` (default): Chromium's own emulation (DevTools `Network.emulateNetworkConditions`),
  on the page's CDP session (Playwright's `new_cdp_session`) before its first request, and on
  the service worker's: Chromium is started with a debugging port as well, and a second client
  (a WebSocket from this script) sets `Target.setAutoAttach` (flatten, wait for the debugger
  on start, service workers only) on the browser's session; every worker that starts is held
  until its own session has the same conditions, then let run. That session's Network events
  time the precache, so the output shows that the worker's fetches were throttled. Chromium
  throttles each target on its own: page and worker each get a 250 kbit/s link.
- `cdp-page`: the page only, the worker attached but not throttled (to compare).
- `proxy`: no emulation; one shaped link on loopback (SharedLink) in front of the server, for
  the page and the worker together, as a phone's radio is.

Same node and flow as bench/pwa.py (whose helpers this uses): a fresh profile opens
/signin?next=/agent and signs in as a village agent, lands on /agent; then a new tab of the same
profile opens /agent again. Milestones:

- first paint: Chromium's paint timing of /signin (of /agent on the repeat visit);
- usable: /agent shows its PIN form (set or unlock) with its handler attached and enabled, and
  the catalogue list is filled;
- offline-ready: the worker's cache holds every URL of the precache list in /sw.js.

Next to each, a 2G estimate for one shared link: bytes down by then / 31,250 B/s + sequential
round trips x 0.3 s, where the round trips are the most requests that went over the network one
after the other (each started after the previous one had finished), counted from the run.
Figures only, no pass/fail: record them in docs/BENCHMARKS.md.

    python bench/pwa_2g.py [--link cdp|cdp-page|proxy] [--no-caddy] [--detail]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import threading
import time
from typing import Any

import aiohttp
import httpx
from demo_node import demo_township, free_port, machine_line
from playwright.sync_api import Browser, sync_playwright

from pwa import AGENT, CHROMIUM, Tally, caddy_in_front, sign_in, trust

BANDWIDTH = 31_250  # bytes per second: 250 kbit/s
LATENCY = 0.3  # seconds per request
PROFILE = {
    "offline": False,
    "latency": LATENCY * 1000,
    "downloadThroughput": BANDWIDTH,
    "uploadThroughput": BANDWIDTH,
}
WAIT = 300.0  # seconds before a milestone counts as never reached

# Runs in every document of the context: reports milestones as wall-clock milliseconds
# (performance.timeOrigin + a high-resolution offset) through the ycMark binding.
MARKS = """(() => {
  const at = (offset) => performance.timeOrigin + offset;
  const mark = (name, offset = performance.now()) => window.ycMark(name, at(offset));
  mark(`nav ${location.pathname}`, 0);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) mark(`${e.name} ${location.pathname}`, e.startTime);
  }).observe({ type: "paint", buffered: true });
  document.addEventListener("submit", () => mark("submit"), true);
  const usable = () => {
    const root = document.querySelector('[data-agent-page="home"]');
    if (!root || root.querySelector("[data-vault-gate]").hidden) return false;
    const form = root.querySelector(
      "[data-pin-setup]:not([hidden]), [data-pin-unlock]:not([hidden])");
    return Boolean(form && form.onsubmit && form.getClientRects().length &&
      !form.querySelector("button").disabled && root.querySelector("[data-catalog-list] li"));
  };
  const cached = async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("yc-") && (await (await caches.open(name)).keys()).length >= COUNT) {
        return true;
      }
    }
    return false;
  };
  const poll = setInterval(() => {
    if (usable()) { mark("usable"); clearInterval(poll); }
  }, 20);
  const precache = setInterval(async () => {
    if (COUNT && (await cached())) { mark("offline-ready"); clearInterval(precache); }
  }, 100);
})();"""


Span = tuple[float, float, int, str]  # start and end (epoch ms), bytes received, URL


class Spans:
    """One target's requests that went over the network, from its own Network events."""

    def __init__(self) -> None:
        self.done: list[Span] = []
        self._open: dict[str, tuple[float, float, str]] = {}  # id -> wall ms, clock s, URL
        self._local: set[str] = set()  # answered by the HTTP cache or a worker

    def _close(self, rid: str, at: float, size: int) -> None:
        wall, clock, url = self._open.pop(rid)
        if size > 0 and rid not in self._local:
            self.done.append((wall, wall + (at - clock) * 1000, size, url))

    def event(self, method: str, params: dict[str, Any]) -> None:
        rid = params.get("requestId", "")
        if method == "Network.requestWillBeSent":
            if "redirectResponse" in params and rid in self._open:
                hop = params["redirectResponse"]
                self._close(rid, params["timestamp"], int(hop.get("encodedDataLength", 0)))
            url = params["request"]["url"].split("//", 1)[1].split("/", 1)[1]
            self._open[rid] = (params["wallTime"] * 1000, params["timestamp"], url)
        elif method == "Network.responseReceived":
            response = params["response"]
            if any(response.get(k) for k in ("fromDiskCache", "fromServiceWorker")):
                self._local.add(rid)
        elif method == "Network.loadingFinished" and rid in self._open:
            self._close(rid, params["timestamp"], int(params["encodedDataLength"]))

    def line(self) -> str:
        if not self.done:
            return "no fetches over the network"
        size = sum(span[2] for span in self.done)
        took = (max(span[1] for span in self.done) - min(span[0] for span in self.done)) / 1000
        return (
            f"{len(self.done)} fetches over the network, {size:,} B in {took:.2f} s "
            f"(at 31,250 B/s those bytes need {size / BANDWIDTH:.2f} s)"
        )


NETWORK = ("Network.requestWillBeSent", "Network.responseReceived", "Network.loadingFinished")


class WorkerThrottle:
    """A second DevTools client, on the browser's session: throttles every service worker.

    `throttle=False` attaches the same way but leaves the worker's link alone (for comparison)."""

    def __init__(self, port: int, throttle: bool) -> None:
        self.port = port
        self.throttle = throttle
        self.workers: list[str] = []  # URLs of the workers attached
        self.errors: list[str] = []
        self.spans = Spans()  # replaced at the start of every visit
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),))
        self._thread.daemon = True
        self._thread.start()
        if not self._ready.wait(15):
            raise SystemExit("could not reach Chromium's debugging port")

    async def _run(self) -> None:
        async with aiohttp.ClientSession() as http:
            version = await (await http.get(f"http://127.0.0.1:{self.port}/json/version")).json()
            async with http.ws_connect(version["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                ids = iter(range(1, 1 << 30))

                async def send(method: str, params: dict[str, Any], session: str = "") -> None:
                    message: dict[str, Any] = {"id": next(ids), "method": method, "params": params}
                    if session:
                        message["sessionId"] = session
                    await ws.send_str(json.dumps(message))

                attach = {
                    "autoAttach": True,
                    "waitForDebuggerOnStart": True,
                    "flatten": True,
                    "filter": [{"type": "service_worker"}],
                }
                await send("Target.setAutoAttach", attach)
                self._ready.set()
                async for frame in ws:
                    message = json.loads(frame.data)
                    if "error" in message:
                        self.errors.append(json.dumps(message["error"]))
                    method, params = message.get("method", ""), message.get("params", {})
                    if method == "Target.attachedToTarget":
                        session = params["sessionId"]
                        self.workers.append(params["targetInfo"]["url"])
                        await send("Network.enable", {}, session)
                        if self.throttle:
                            await send("Network.emulateNetworkConditions", PROFILE, session)
                        await send("Runtime.runIfWaitingForDebugger", {}, session)
                    elif method in NETWORK:
                        self.spans.event(method, params)


class SharedLink:
    """One 2G link for everything (`--link proxy`): a TCP proxy on loopback in front of the
    server that paces each direction at 31,250 B/s, shared by all connections, and delivers
    every chunk half a round trip (150 ms) after its last byte was paced, so a request and its
    answer take 300 ms more than their bytes need, as on the emulated profile; a new TCP (and
    TLS) connection pays its handshakes' round trips too."""

    CHUNK = 1460  # a TCP segment on Ethernet

    def __init__(self, upstream: str) -> None:
        scheme, rest = upstream.split("://")
        self.host, port = rest.split(":")
        self.upstream_port = int(port)
        self.port = free_port()
        self.base = f"{scheme}://{self.host}:{self.port}"
        self._free = {"up": 0.0, "down": 0.0}  # when each direction's link is next idle
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(
            target=self._loop.run_until_complete, args=(self._serve(),), daemon=True
        ).start()
        if not self._ready.wait(10):
            raise SystemExit("the shaping proxy did not start")

    async def _serve(self) -> None:
        server = await asyncio.start_server(self._connection, self.host, self.port)
        self._ready.set()
        async with server:
            await server.serve_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await asyncio.open_connection(self.host, self.upstream_port)
        await asyncio.gather(
            self._pipe(reader, upstream[1], "up"), self._pipe(upstream[0], writer, "down")
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, way: str
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                at, chunk = await queue.get()
                await asyncio.sleep(max(0.0, at - self._loop.time()))
                if not chunk:
                    writer.close()
                    return
                writer.write(chunk)
                await writer.drain()

        delivery = asyncio.ensure_future(deliver())
        try:
            while chunk := await reader.read(self.CHUNK):
                paced = max(self._loop.time(), self._free[way]) + len(chunk) / BANDWIDTH
                self._free[way] = paced
                queue.put_nowait((paced + LATENCY / 2, chunk))
        except ConnectionError:
            pass
        queue.put_nowait((self._free[way] + LATENCY / 2, b""))
        try:
            await delivery
        except ConnectionError:
            pass


def until(spans: list[Span], moment: float) -> tuple[int, int]:
    """Bytes down and sequential round trips of the requests finished by `moment`: the most
    requests that ran one after another, each starting after the previous one had finished."""
    done = sorted((span for span in spans if span[1] <= moment), key=lambda span: span[1])
    trips, free = 0, 0.0
    for start, end, *_ in done:
        if start >= free:
            trips, free = trips + 1, end
    return sum(span[2] for span in done), trips


class Visit:
    """One visit in a throttled tab: milestones from the ycMark binding, requests from CDP."""

    def __init__(self, run: Run, emulate: bool) -> None:
        self.marks: dict[str, float] = {}
        self.tally = Tally()
        self.page_spans = Spans()
        self.worker = run.worker.spans = Spans()
        run.visit = self
        run.context.on("requestfinished", self.tally.record)
        self.page = run.context.new_page()
        session = run.context.new_cdp_session(self.page)
        for method in NETWORK:
            session.on(method, lambda params, method=method: self.page_spans.event(method, params))
        session.send("Network.enable")
        if emulate:
            session.send("Network.emulateNetworkConditions", PROFILE)

    def wait_for(self, *names: str) -> None:
        deadline = time.monotonic() + WAIT
        while not all(name in self.marks for name in names) and time.monotonic() < deadline:
            self.page.wait_for_timeout(100)
        self.page.wait_for_timeout(1500)  # the shells' background revalidations

    def row(self, label: str, start: str, mark: str) -> str:
        if start not in self.marks or mark not in self.marks:
            return f"| {label} | not reached in {WAIT:.0f} s | | | |"
        took = (self.marks[mark] - self.marks[start]) / 1000
        size, trips = until(self.page_spans.done + self.worker.done, self.marks[mark])
        estimate = size / BANDWIDTH + trips * LATENCY
        return f"| {label} | {took:.2f} s | {size:,} B | {trips} | {estimate:.2f} s |"

    def timeline(self) -> None:
        """Every fetch over the network, in ms from the first navigation's start."""
        zero = self.marks.get("nav /signin", min(self.marks.values()))
        rows = [(who, span) for who in ("page", "worker") for span in self.spans(who)]
        for who, (start, end, size, url) in sorted(rows, key=lambda row: row[1][0]):
            print(f"      {who:<7}{start - zero:>7.0f} {end - zero:>7.0f} ms {size:>7,} B  {url}")

    def spans(self, who: str) -> list[Span]:
        return self.page_spans.done if who == "page" else self.worker.done


class Run:
    """A fresh profile whose pages report their milestones (first one wins) to the visit."""

    def __init__(self, browser: Browser, worker: WorkerThrottle, count: int) -> None:
        self.context = browser.new_context(locale="zh-CN")
        self.worker = worker
        self.visit: Visit | None = None
        self.context.expose_binding("ycMark", self._mark)
        self.context.add_init_script(MARKS.replace("COUNT", str(count)))

    def _mark(self, _source: Any, name: str, at: float) -> None:
        if self.visit is not None:
            self.visit.marks.setdefault(name, at)


ROWS = (  # visit, milestone, from which mark to which
    ("first", "first paint of /signin", "nav /signin", "first-paint /signin"),
    ("first", "/agent usable, from opening /signin", "nav /signin", "usable"),
    ("first", "/agent usable, from pressing 登录", "submit", "usable"),
    ("first", "offline-ready, from opening /signin", "nav /signin", "offline-ready"),
    ("repeat", "first paint of /agent", "nav /agent", "first-paint /agent"),
    ("repeat", "/agent usable", "nav /agent", "usable"),
)
TABLE = """| milestone | time | bytes down by then | sequential round trips | 2G estimate |
|---|---:|---:|---:|---:|"""


def measure(label: str, base: str, password: str, link: str, detail: bool) -> None:
    """`link`: "cdp" (page and worker throttled by Chromium), "cdp-page" (the page only, for
    comparison) or "proxy" (everything through one SharedLink, no emulation in Chromium)."""
    if link == "proxy":
        base = SharedLink(base).base
    script = httpx.get(f"{base}/sw.js", verify=False).text  # noqa: S501 (Caddy's own CA)
    found = re.search(r"const PRECACHE = (\[.*?\]);", script, re.S)
    count = len(json.loads(found.group(1))) if found else 0
    port = free_port()
    with sync_playwright() as driver:
        args = [*trust(base), f"--remote-debugging-port={port}"]
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        worker = WorkerThrottle(port, link == "cdp")
        run = Run(browser, worker, count)
        first = Visit(run, link != "proxy")
        sign_in(first.page, base, password)
        first.wait_for("usable", "offline-ready")
        run.context.remove_listener("requestfinished", first.tally.record)
        first.page.close()
        repeat = Visit(run, link != "proxy")
        repeat.page.goto(f"{base}/agent")
        repeat.wait_for("usable")
        run.context.remove_listener("requestfinished", repeat.tally.record)
        how = {
            "cdp": "throttled on its own CDP session",
            "cdp-page": "NOT throttled (comparison run)",
            "proxy": "no emulation: the page and the worker share the proxy's link",
        }[link]
        print(f"\n## {label} ({base}), Chromium {browser.version}, precache of {count} URLs")
        print(TABLE)
        for visit, label, start, mark in ROWS:
            print(
                (first if visit == "first" else repeat).row(f"{visit} visit: {label}", start, mark)
            )
        workers = f"{len(worker.workers)} worker(s) attached"
        print(f"first visit, the page ({workers}): {first.page_spans.line()}")
        print(f"first visit, the service worker ({how}): {first.worker.line()}")
        if worker.errors:
            print("DevTools errors:", *worker.errors)
        if detail:
            first.timeline()
        first.tally.report("first visit bytes", detail)
        repeat.tally.report("repeat visit bytes", detail)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-caddy", action="store_true", help="only the server itself")
    parser.add_argument("--detail", action="store_true", help="list every request")
    parser.add_argument(
        "--link",
        choices=("cdp", "cdp-page", "proxy"),
        default="cdp",
        help="Chromium's emulation on page and worker (default), on the page only, "
        "or one shaped link on loopback for both",
    )
    options = parser.parse_args()
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=True)
    print(machine_line(version.stdout.strip()))
    print(
        f"profile: {BANDWIDTH * 8 // 1000} kbit/s each way, {LATENCY * 1000:.0f} ms a request;"
        f" link: {options.link}"
    )
    with demo_township() as node:
        password = node.logins[AGENT]
        label = "the server itself (Starlette GZip, HTTP/1.1)"
        measure(label, node.base_url, password, options.link, options.detail)
        if options.no_caddy:
            return
        with caddy_in_front(node.base_url) as base:
            if base is None:
                print("\n(caddy not installed: no figures through Caddy)")
            else:
                label = "through Caddy (HTTPS, HTTP/2, encode zstd gzip)"
                measure(label, base, password, options.link, options.detail)


if __name__ == "__main__":
    main()
