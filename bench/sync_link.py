"""Draining a township's backlog to the county through a slow, lossy link, against its bound.

Two real server processes on loopback: a county (`init`, `demo`, `serve`) and a township
(`init`, `demo`, plus ten-event cases up to `--cases` in all, made as in bench/sync_ingest.py),
enrolled with `enrol-code` and `join` through a shaping TCP proxy written here. Then the
township is started with `yichuang serve`; its background sync loop pushes the whole backlog
(and pulls once) through the proxy. The time is from the first byte the township sends to the
last byte it gets back in that round.

The link, both directions sharing one pipe (so the bound below is exact for it):

- bandwidth: `--kbit` (256) kbit/s, paced in 1,460-byte segments;
- delay: `--delay-ms` (300) one way, on every segment;
- loss: each segment is lost with probability `--loss` (5 %) and arrives one retransmission
  timeout later (`--rto-ms`, 800 = the 600 ms round trip plus Linux's 200 ms floor), sent
  again (its bytes count twice on the link), and every later segment of that direction waits
  behind it (TCP delivers in order). Optimistic: no congestion-window cut, no slow start;
- a new TCP connection costs one round trip before its first byte (the handshake).

The bound is the bytes on the wire (HTTP requests and answers, both directions, TCP/IP headers
not counted) over the link's rate: no protocol can finish sooner.

    .venv/bin/python bench/sync_link.py [--cases 1000]    # --cases 100 for a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from demo_node import free_port
from sync_ingest import (
    CLI,
    COUNTY,
    COUNTY_NAME,
    TOWNSHIP,
    add_cases,
    cli,
    machine,
    make_township,
    township_events,
)

SEGMENT = 1460


@dataclass
class LinkModel:
    rate: float  # bytes a second
    delay: float  # seconds, one way
    loss: float  # probability a segment is lost
    rto: float  # seconds a lost segment arrives late
    seed: int = 20261202
    rng: random.Random = field(init=False)
    busy_until: float = 0.0  # the pipe sends one segment at a time, both directions

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - loss pattern, not secrecy


@dataclass
class Stats:
    up: int = 0  # bytes township -> county
    down: int = 0
    lost: int = 0
    segments: int = 0
    connections: int = 0
    first: float | None = None  # loop time of the first byte from the township
    last: float | None = None  # loop time the last byte reached the township


class ShapingProxy:
    """A TCP proxy on loopback (own thread and event loop) that shapes as LinkModel says."""

    def __init__(self, target_port: int, model: LinkModel) -> None:
        self.target_port = target_port
        self.model = model
        self.stats = Stats()
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ShapingProxy:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(timeout=5)
        return self

    def __exit__(self, *_exc: object) -> None:
        async def close() -> None:
            self.server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.server.wait_closed(), 5)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    def reset(self) -> Stats:
        done = self.stats
        self.stats = Stats()
        return done

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        await asyncio.sleep(2 * self.model.delay)  # SYN, SYN-ACK: the client's data waits
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, up_writer, upward=True),
            self._pipe(up_reader, writer, upward=False),
        )

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, upward: bool
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        model = self.model

        async def pump() -> None:
            arrives = 0.0  # in order: nothing arrives before the segment ahead of it
            try:
                while chunk := await source.read(65536):
                    stats = self.stats
                    if upward and stats.first is None:
                        stats.first = loop.time()
                    for at in range(0, len(chunk), SEGMENT):
                        segment = chunk[at : at + SEGMENT]
                        cost = len(segment) / model.rate
                        start = max(loop.time(), model.busy_until)
                        model.busy_until = start + cost
                        when = model.busy_until + model.delay
                        stats.segments += 1
                        if model.rng.random() < model.loss:
                            stats.lost += 1
                            model.busy_until += cost  # the resend takes the pipe again
                            when += model.rto
                        arrives = max(arrives, when)
                        if upward:
                            stats.up += len(segment)
                        else:
                            stats.down += len(segment)
                        queue.put_nowait((arrives, segment))
            except (OSError, asyncio.IncompleteReadError):
                pass
            queue.put_nowait(None)

        async def deliver() -> None:
            try:
                while (item := await queue.get()) is not None:
                    when, segment = item
                    await asyncio.sleep(max(0.0, when - loop.time()))
                    sink.write(segment)
                    await sink.drain()
                    if not upward:
                        self.stats.last = loop.time()
                if sink.can_write_eof():
                    sink.write_eof()
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    sink.close()

        await asyncio.gather(pump(), deliver())


# --- the two servers ----------------------------------------------------------------------------


@dataclass
class Served:
    data: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.data / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*CLI, "--data", str(self.data), "serve", "--port", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                url = f"http://127.0.0.1:{self.port}/api/health"
                if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                    return
            time.sleep(0.1)
        raise SystemExit("server did not start:\n" + (self.data / "serve.log").read_text()[-3000:])

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def log(self) -> str:
        return (self.data / "serve.log").read_text(errors="replace")


SERVED = re.compile(r'"path": "/api/sync/[^"]*", "status": \d+, "ms": ([\d.]+)')
ROUND = re.compile(r"sync round: (\d+) up, (\d+) down")


def drain(township: Served, timeout: float) -> tuple[int, float]:
    """Serve the township until its sync loop logs a completed round; (events up, seconds)."""
    started = time.monotonic()
    township.start()
    while time.monotonic() - started < timeout:
        found = ROUND.search(township.log())
        if found:
            return int(found.group(1)), time.monotonic() - started
        if "sync round failed" in township.log():
            tail = township.log()[-2000:]
            print(f"# a round failed (the loop retries with backoff):\n{tail}", file=sys.stderr)
        time.sleep(0.5)
    raise SystemExit(f"no completed round in {timeout:.0f} s:\n{township.log()[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000, help="cases in the backlog, in all")
    parser.add_argument("--kbit", type=float, default=256.0)
    parser.add_argument("--delay-ms", type=float, default=300.0)
    parser.add_argument("--loss", type=float, default=0.05)
    parser.add_argument("--rto-ms", type=float, default=800.0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args()
    model = LinkModel(
        rate=args.kbit * 1000 / 8,
        delay=args.delay_ms / 1000,
        loss=args.loss,
        rto=args.rto_ms / 1000,
    )
    print(f"# {machine()}")
    print(
        f"# link: {args.kbit:g} kbit/s shared by both directions, {args.delay_ms:g} ms one way, "
        f"loss {args.loss:.0%} of {SEGMENT}-byte segments, each lost one arriving "
        f"{args.rto_ms:g} ms late (one RTO), resent and holding back the segments behind it; "
        "no congestion-window cut; one round trip per new connection"
    )
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        county = Served(root / "county", free_port())
        cli(county.data, "init", "--role", "county", "--region", COUNTY, "--name", COUNTY_NAME)
        cli(county.data, "demo")
        township = Served(root / "township", free_port())
        make_township(township.data)
        demo_cases, _ = asyncio.run(township_events(township.data))
        started = time.perf_counter()
        asyncio.run(add_cases(township.data, max(0, args.cases - demo_cases)))
        cases, events = asyncio.run(township_events(township.data))
        print(
            f"# township backlog: {cases} cases ({demo_cases} from `demo`), {events} events, "
            f"made in {time.perf_counter() - started:.0f} s"
        )
        county.start()
        try:
            with ShapingProxy(county.port, model) as proxy:
                out = cli(county.data, "enrol-code", "--region", TOWNSHIP, "--name", TOWNSHIP)
                code = re.search(r"接入码：(\S+)", out)
                if code is None:
                    raise SystemExit(f"no enrolment code in:\n{out}")
                proxy_url = f"http://127.0.0.1:{proxy.port}"
                cli(township.data, "join", "--parent", proxy_url, "--code", code.group(1))
                proxy.reset()
                try:
                    sent, wall = drain(township, args.timeout)
                finally:
                    township.stop()
                stats = proxy.reset()
        finally:
            county.stop()
        served = [float(ms) for ms in SERVED.findall(county.log())]
    if stats.first is None or stats.last is None:
        raise SystemExit("nothing crossed the link")
    seconds = stats.last - stats.first
    total = stats.up + stats.down
    bound = total / model.rate
    print(
        f"# {sent} events pushed in {len(served)} sync requests over {stats.connections} "
        f"connection(s); the county spent {sum(served) / 1000:.0f} s answering them; "
        f"{stats.lost} of {stats.segments} segments lost; "
        f"township process start to round logged: {wall:.0f} s\n"
    )
    print("| cases | events | bytes up | bytes down | seconds | bound seconds | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {cases:,} | {events:,} | {stats.up:,} | {stats.down:,} | {seconds:.0f} "
        f"| {bound:.0f} | {seconds / bound:.2f} |"
    )


if __name__ == "__main__":
    main()
