"""Enrolment between two real nodes: a county served by `yichuang serve` on a loopback port,
a township that joins it with `yichuang join` over real HTTP, each with its own data directory,
exactly as operators do it (DESIGN.md §6, docs/guide.md section 八).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.sync

REPO = Path(__file__).resolve().parents[2]
SERVER = [sys.executable, "-m", "server"]
COUNTY, TOWNSHIP = "990102", "990102101000"
CODE = re.compile(r"的接入码：([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})")
START_TIMEOUT = 30.0


def cli(data: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """`yichuang --data DATA ARGS…` as a process; fails the test unless it exits as expected."""
    done = subprocess.run(
        [*SERVER, "--data", str(data), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(data.parent)},  # no DATABASE_URL, no proxy
    )
    if (done.returncode == 0) != ok:
        pytest.fail(
            f"`yichuang {' '.join(args)}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def healthy(base: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{base}/api/health", timeout=2) as response:
            return bool(json.loads(response.read()).get("status") == "ok")
    except (urllib.error.URLError, OSError, ValueError):
        return False


@pytest.fixture
def county(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A county node served on a free loopback port: (data directory, base URL)."""
    data, port = tmp_path / "county", free_port()
    cli(data, "init", "--role", "county", "--region", COUNTY, "--name", "示范县政务服务中心",
        "--port", str(port))  # fmt: skip
    log = (tmp_path / "county.log").open("wb")
    process = subprocess.Popen(
        [*SERVER, "--data", str(data), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not healthy(base):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the county did not start:\n" + (tmp_path / "county.log").read_text())
            time.sleep(0.1)
        yield data, base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
    assert "Traceback" not in (tmp_path / "county.log").read_text()


def keys_show(data: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(cli(data, "keys", "show", "--json").stdout)
    return document


def test_a_township_joins_a_running_county_with_a_one_time_code(
    county: tuple[Path, str], tmp_path: Path
) -> None:
    county_data, base = county
    township_data = tmp_path / "township"
    cli(township_data, "init", "--role", "township", "--region", TOWNSHIP[:9],
        "--name", "青山镇便民服务中心")  # fmt: skip

    issued = cli(county_data, "enrol-code", "--region", TOWNSHIP, "--name", "青山镇便民服务中心")
    found = CODE.search(issued.stdout)
    assert found, issued.stdout
    code = found.group(1)
    assert "24 小时" in issued.stdout and "只能用一次" in issued.stdout

    joined = cli(township_data, "join", "--parent", base, "--code", code)
    county_keys, township_keys = keys_show(county_data), keys_show(township_data)
    assert f"县级密钥编号：{county_keys['key_id']}" in joined.stdout
    assert "已接入 示范县政务服务中心（990102）" in joined.stdout

    # Each directory holds the other's keys, in force.
    [child] = county_keys["peers"]
    assert (child["region_code"], child["relation"], child["revoked"]) == (TOWNSHIP, "child", False)
    assert child["keys"] == [{"key_id": township_keys["key_id"], "state": "active"}]
    [parent] = township_keys["peers"]
    assert (parent["region_code"], parent["relation"], parent["url"]) == (COUNTY, "parent", base)
    assert parent["keys"] == [{"key_id": county_keys["key_id"], "state": "active"}]
    toml = (township_data / "node.toml").read_text(encoding="utf-8")
    assert f'parent_url = "{base}"' in toml and 'parent_region_code = "990102"' in toml

    # Joined already: said so, and the code is not spent on it; a used code fails clearly.
    again = cli(township_data, "join", "--parent", base, "--code", code, ok=False)
    assert "本中心已接入 示范县政务服务中心" in again.stderr
    reused = cli(township_data, "join", "--parent", base, "--code", code, "--rejoin", ok=False)
    assert "接入码已经用过了" in reused.stderr

    # The keys never left their data directories: only owner-readable PEM files there.
    for data in (county_data, township_data):
        for pem in (data / "secrets" / "node-keys").rglob("*.pem"):
            assert pem.stat().st_mode & 0o077 == 0
