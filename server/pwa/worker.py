"""/sw.js: the service worker, assembled at start-up from the classic scripts in pwa/sw/.

The parts are concatenated in a fixed order (STYLE.md §4), ours first and then the
notification engineer's `push.js` when it exists, after two generated lines:

    const VERSION = "<hash>";        content hash of everything the worker and its caches hold
    const PRECACHE = [ … ];          the app shell: CSS, htmx, modules, icons, the agent's pages,
                                     the offline page and the catalogue

VERSION covers the parts, the precache list (whose static URLs carry their own content
hashes) and the templates of the pages it precaches, so any change to what an offline phone
would show installs a new worker, which fills a new cache and deletes the old ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from server.settings import PWA_DIR
from server.templating import ASSETS, static_url

SW_DIR = PWA_DIR / "sw"
PARTS = ("strategies.js", "routes.js", "outbox.js", "main.js")  # ours, in this order
OPTIONAL_PARTS = ("push.js",)  # others', after ours, each only if present
# The agent's pages: static shells that render from IndexedDB, so they are the same for every
# user and may be cached (they carry no personal data).
AGENT_PAGES = ("/agent", "/agent/new", "/agent/outbox", "/agent/unlock")
OFFLINE_PAGE = "/offline"
CATALOGUE = "/api/catalog"
SHELL_TEMPLATES = ("base.html", "components/_agent.html", "errors/offline.html", "agent")
SHELL_ASSETS = ("css/", "js/", "icons/", "vendor/")


@dataclass(frozen=True)
class ServiceWorker:
    version: str
    precache: tuple[str, ...]
    script: bytes


def _template_sources() -> bytes:
    sources = b""
    for name in SHELL_TEMPLATES:
        path = PWA_DIR / "templates" / name
        for file in sorted(path.rglob("*.html")) if path.is_dir() else [path]:
            sources += file.read_bytes()
    return sources


def assemble() -> ServiceWorker:
    """Read the parts and build the script; the names and order are fixed above."""
    names = [*PARTS, *(name for name in OPTIONAL_PARTS if (SW_DIR / name).is_file())]
    parts = [f"// --- pwa/sw/{name}\n{(SW_DIR / name).read_text('utf-8')}" for name in names]
    assets = sorted(name for name in ASSETS if name.startswith(SHELL_ASSETS))
    precache = (*(static_url(name) for name in assets), *AGENT_PAGES, OFFLINE_PAGE, CATALOGUE)
    body = "\n".join(parts)
    digest = hashlib.sha256()
    for piece in (body.encode(), json.dumps(precache).encode(), _template_sources()):
        digest.update(hashlib.sha256(piece).digest())
    version = digest.hexdigest()[:16]
    head = (
        "/* 一窗 service worker: assembled by server/pwa/worker.py from pwa/sw/ */\n"
        f'"use strict";\nconst VERSION = "{version}";\n'
        f"const PRECACHE = {json.dumps(precache, indent=1)};\n"
    )
    return ServiceWorker(version, precache, (head + body).encode("utf-8"))


SERVICE_WORKER = assemble()


async def service_worker(request: Request) -> Response:
    """The worker script; `no-cache` so that the browser checks for a new version every time."""
    return Response(
        SERVICE_WORKER.script,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )
