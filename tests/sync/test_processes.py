"""Real processes on loopback: a county and two townships as `yichuang serve`, enrolled with
`enrol-code` and `join`, synced with `yichuang sync --once`; then faults between township A and
the county (a proxy that drops requests, drops answers after the county applied them, duplicates
requests and cuts connections mid-body) and SIGKILLs of the township's round and of the county
at random points, each restarted. At the end every side holds exactly the same events, none
twice, every chain intact (`yichuang verify`); and a relayed case decided at the county through
its API comes back to the township, tells its clerk and texts the applicant once each (however
many rounds follow), and is delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.sync

REPO = Path(__file__).resolve().parents[2]
SERVER = [sys.executable, "-m", "server"]
COUNTY, A, B = "990102", "990102101000", "990102102000"


def _port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*SERVER, "--data", str(data), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"yichuang {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


@dataclass
class Served:
    data: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with (self.data / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*SERVER, "--data", str(self.data), "serve", "--port", str(self.port)],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                answer = httpx.get(self.url + "/api/health", timeout=1, trust_env=False)
                if answer.json().get("status") == "ok":
                    return
            time.sleep(0.1)
        pytest.fail("server did not start:\n" + (self.data / "serve.log").read_text()[-3000:])

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.send_signal(signal.SIGKILL)
        else:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None


# --- a faulty link ------------------------------------------------------------------------------


class FaultyProxy:
    """An HTTP/1.1 proxy on loopback (one request per connection) that misbehaves on demand."""

    MODES = ("pass", "drop_request", "drop_answer", "duplicate", "cut_body")

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = _port()
        self.modes: list[str] = []  # consumed one per request; "pass" when empty
        self.seen: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FaultyProxy:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(timeout=5)
        return self

    def __exit__(self, *_exc: object) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        found = re.search(rb"(?i)content-length:\s*(\d+)", head)
        length = int(found.group(1)) if found else 0
        body = await reader.readexactly(length)
        head = re.sub(rb"(?i)connection: [^\r]*\r\n", b"", head)
        return head[:-2] + b"Connection: close\r\n\r\n" + body

    async def _forward(self, request: bytes, cut: bool = False) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        writer.write(request[: len(request) * 2 // 3] if cut else request)
        await writer.drain()
        if cut:
            writer.close()
            return b""
        answer = await reader.read()
        writer.close()
        return answer

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await self._read_request(reader)
            mode = self.modes.pop(0) if self.modes else "pass"
            self.seen.append(mode)
            if mode == "drop_request":
                pass
            elif mode == "cut_body":
                await self._forward(request, cut=True)
            elif mode == "drop_answer":
                await self._forward(request)  # the county applies it; the child never hears
            elif mode == "duplicate":
                answer = await self._forward(request)
                await self._forward(request)  # the twin is refused as a replay
                writer.write(answer)
            else:
                writer.write(await self._forward(request))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


# --- the tree -----------------------------------------------------------------------------------


@dataclass
class Tree:
    county: Served
    a: Path
    b: Path
    proxy: FaultyProxy


def _init(data: Path, role: str, region: str, name: str) -> None:
    parent = [] if role == "county" else ["--parent-region", COUNTY, "--parent-name", "示范县"]
    cli(data, "init", "--role", role, "--region", region, "--name", name, *parent)
    cli(data, "demo")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tree]:
    root = tmp_path_factory.mktemp("tree")
    county = Served(root / "county", _port())
    a, b = root / "a", root / "b"
    _init(county.data, "county", COUNTY, "示范县政务服务中心")
    _init(a, "township", A, "青山镇便民服务中心")
    _init(b, "township", B, "白水乡便民服务中心")
    county.start()
    with FaultyProxy(county.port) as proxy:
        try:
            for data, region, parent in ((a, A, proxy.port), (b, B, county.port)):
                out = cli(county.data, "enrol-code", "--region", region, "--name", region).stdout
                code = re.search(r"接入码：(\S+)", out).group(1)  # type: ignore[union-attr]
                cli(data, "join", "--parent", f"http://127.0.0.1:{parent}", "--code", code)
            yield Tree(county, a, b, proxy)
        finally:
            county.stop()


def events(data: Path, prefix: str = "") -> list[tuple[str, str, str, int]]:
    with contextlib.closing(sqlite3.connect(data / "yichuang.db")) as db:
        return sorted(
            db.execute(
                "SELECT e.id, e.hash, e.case_id, e.seq FROM case_event e "
                "JOIN case_record c ON c.id = e.case_id WHERE c.org_unit_code LIKE ?",
                (prefix + "%",),
            ).fetchall()
        )


def quarantined(data: Path) -> int:
    with contextlib.closing(sqlite3.connect(data / "yichuang.db")) as db:
        return int(db.execute("SELECT count(*) FROM sync_quarantine").fetchone()[0])


def sync_once(data: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return cli(data, "sync", "--once", check=check)


def assert_same(tree: Tree) -> None:
    for data, region in ((tree.a, A), (tree.b, B)):
        mine, theirs = events(data), events(tree.county.data, region[:9])
        assert mine == theirs and mine, f"{region}: {len(mine)} here, {len(theirs)} at the county"
        assert len({e[0] for e in mine}) == len(mine)
        assert quarantined(data) == 0
    assert quarantined(tree.county.data) == 0
    for data in (tree.county.data, tree.a, tree.b):
        assert "没有被改动" in cli(data, "verify").stdout


def test_two_townships_sync_with_the_county(tree: Tree) -> None:
    for data in (tree.a, tree.b):
        done = sync_once(data)
        assert "同步完成：上传" in done.stdout and "字节" in done.stdout
    assert_same(tree)
    assert "上传 0 个事件，下载 0 个事件" in sync_once(tree.b).stdout


def test_faults_and_kills_lose_and_double_nothing(tree: Tree) -> None:
    rng = random.Random(20261122)  # noqa: S311 - fault timing, not secrecy
    for _round in range(2):
        _new_cases(tree.a, 3)
        tree.proxy.modes = [rng.choice(FaultyProxy.MODES[1:]) for _ in range(4)]
        sync_once(tree.a, check=False)
        # A round killed at a random point, then the county killed mid-round and restarted.
        round_ = subprocess.Popen(
            [*SERVER, "--data", str(tree.a), "sync", "--once"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.5, 2.5))
        round_.send_signal(signal.SIGKILL)
        round_.wait()
        _new_cases(tree.a, 1)
        round_ = subprocess.Popen(
            [*SERVER, "--data", str(tree.a), "sync", "--once"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.8, 2.0))
        tree.county.stop(kill=True)
        round_.wait(timeout=60)
        tree.county.start()
    assert {"drop_request", "drop_answer", "duplicate", "cut_body"} & set(tree.proxy.seen)
    tree.proxy.modes = []
    for _ in range(3):
        if sync_once(tree.a, check=False).returncode == 0:
            break
    sync_once(tree.b)
    assert_same(tree)


def _new_cases(data: Path, count: int) -> None:
    """Open and accept cases on a township through its own code (no server needed)."""
    script = (
        "import asyncio, sys\n"
        "from tests.sync.make_cases import main\n"
        f"asyncio.run(main({str(data)!r}, {count}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_relayed_case_decided_at_the_county_reaches_the_township(tree: Tree) -> None:
    case_id = _relayed_case(tree.b)
    sync_once(tree.b)
    _county_decides(tree.county, case_id)
    assert "下载 1 个事件" in sync_once(tree.b).stdout
    assert "下载 0 个事件" in sync_once(tree.b).stdout  # a repeat round brings nothing new
    with contextlib.closing(sqlite3.connect(tree.b / "yichuang.db")) as db:
        state, owner = db.execute(
            "SELECT state, owner FROM case_record WHERE id = ?", (case_id,)
        ).fetchone()
    assert (state, owner) == ("decided", "township")
    _township_tells_once(tree.b, case_id)
    script = (
        "import asyncio\n"
        "from tests.sync.make_cases import deliver\n"
        f"asyncio.run(deliver({str(tree.b)!r}, {case_id!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    sync_once(tree.b)
    assert events(tree.b) == events(tree.county.data, B[:9])


def _township_tells_once(data: Path, case_id: str) -> None:
    """The decision became one message for the relaying clerk (read through the township's
    API) and one text for the applicant (the served township's job, the log gateway)."""
    with contextlib.closing(sqlite3.connect(data / "yichuang.db")) as db:
        (serial,) = db.execute("SELECT serial FROM case_record WHERE id = ?", (case_id,)).fetchone()
    token = cli(data, "token", "create", "--user", "zhen.clerk").stdout.split()[0]
    township = Served(data, _port())
    log = data / "serve.log"

    def texted() -> list[str]:  # the log gateway's lines for this case (the demo has others)
        lines = log.read_text(encoding="utf-8").splitlines()
        return [line for line in lines if "sms (log gateway)" in line and serial in line]

    township.start()
    try:
        for _ in range(300):  # the job's first round runs as the server starts
            if texted():
                break
            time.sleep(0.1)
        answer = httpx.get(
            f"{township.url}/api/notifications",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            trust_env=False,
        )
        assert answer.status_code == 200, answer.text
        told = [n for n in answer.json()["items"] if n["link"] == f"/cases/{case_id}"]
        assert [(n["kind"], n["title"]) for n in told] == [("result", "上报件结果已返回")]
    finally:
        township.stop()
    assert "下载 0 个事件" in sync_once(data).stdout
    assert "短信：发出 0" in cli(data, "notify", "--once").stdout  # nothing left to send
    (text,) = texted()
    assert "to=139****5678" in text and "13912345678" not in text
    assert f"您的办件{serial}已办结，请携带身份证到白水乡便民服务中心领取。" in text


def _relayed_case(data: Path) -> str:
    script = (
        "import asyncio\n"
        "from tests.sync.make_cases import relayed\n"
        f"print(asyncio.run(relayed({str(data)!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _county_decides(county: Served, case_id: str) -> None:
    """Through the county's JSON API as a county clerk, with a token made by the CLI."""
    clerk = "xian.clerk"  # the county demo's clerk
    token = cli(county.data, "token", "create", "--user", clerk).stdout.split()[0]
    answer = httpx.post(
        f"{county.url}/api/cases/{case_id}/commands/county_decide",
        json={"outcome": "approve"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        trust_env=False,
    )
    assert answer.status_code == 200, answer.text
