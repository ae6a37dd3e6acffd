"""/sw.js assembly (server/pwa/worker.py): the parts in order, others' parts when present, a
version that follows the content, and a precache list without anything personal."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.pwa import worker
from server.pwa.manifest import manifest

REAL_PARTS = worker.SW_DIR


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in worker.PARTS:
        (tmp_path / name).write_text((REAL_PARTS / name).read_text("utf-8"), "utf-8")
    monkeypatch.setattr(worker, "SW_DIR", tmp_path)
    return tmp_path


def test_our_parts_come_first_in_their_order_and_push_js_after_them(parts: Path) -> None:
    without = worker.assemble().script.decode()
    assert "pwa/sw/push.js" not in without
    (parts / "push.js").write_text("self.addEventListener('push', () => {});\n", "utf-8")
    script = worker.assemble().script.decode()
    names = [*worker.PARTS, "push.js"]
    at = [script.index(f"// --- pwa/sw/{name}\n") for name in names]
    assert at == sorted(at)
    assert script.index("const VERSION") < at[0] and script.index("const PRECACHE") < at[0]


def test_the_version_follows_every_part(parts: Path) -> None:
    first = worker.assemble().version
    assert first == worker.assemble().version
    (parts / "routes.js").write_text("// changed\n", "utf-8")
    assert worker.assemble().version != first
    assert f'const VERSION = "{worker.assemble().version}";'.encode() in worker.assemble().script


def test_the_precache_holds_the_shell_and_nothing_personal() -> None:
    precache = worker.SERVICE_WORKER.precache
    assert {"/agent", "/agent/new", "/agent/outbox", "/agent/unlock", "/offline"} <= set(precache)
    assert "/api/catalog" in precache
    static = [url for url in precache if url.startswith("/static/")]
    assert all("?v=" in url for url in static)
    assert any(url.startswith("/static/js/app.js?v=") for url in static)
    assert any(url.startswith("/static/css/app.css?v=") for url in static)
    assert not [url for url in precache if url.startswith(("/cases", "/api/me", "/admin"))]


def test_every_route_line_names_its_strategy_and_why() -> None:
    table = (REAL_PARTS / "routes.js").read_text("utf-8")
    lines = table[table.index("const ROUTES = [") :].splitlines()[1:]
    rules = [n for n, line in enumerate(lines) if line.strip().startswith("[(")]
    assert len(rules) >= 6
    for n in rules:
        comment = lines[n - 1].strip()
        while not comment.startswith("//") or comment.startswith("// ("):
            n -= 1
            comment = lines[n - 1].strip()
        assert comment.startswith("//"), lines[n]


def test_the_manifest_makes_an_installable_app() -> None:
    data = manifest()
    assert data["name"] == "一窗·村代办" and data["short_name"] == "村代办"
    assert data["start_url"] == "/agent" and data["display"] == "standalone"
    icons = data["icons"]
    assert isinstance(icons, list)
    for icon in icons:
        path = worker.SW_DIR.parent / icon["src"].removeprefix("/static/").split("?")[0]
        size = int(icon["sizes"].split("x")[0])
        header = path.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(header[16:20], "big") == size
