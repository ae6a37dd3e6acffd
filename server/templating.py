"""Templates, static assets and the one place that marks text as safe HTML.

A handler renders a page with `render()`: the whole page, or only the named block when htmx
asked for a fragment (HX-Request without HX-Boosted or HX-History-Restore-Request). Every page's
context is a dataclass; its fields become the template's variables beside the shared ones
(request, user, node, csrf_token, static_url, unread counts later).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2_fragments.starlette import Jinja2Blocks
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from server.auth.models import ROLE_NAMES
from server.auth.sessions import csrf_token
from server.context import pop_flash
from server.pwa.modules import version_modules
from server.settings import PWA_DIR

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
HTMX_FILE = PWA_DIR / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"


@dataclass(frozen=True)
class Asset:
    path: Path
    version: str
    media_type: str
    content: bytes | None = None  # served instead of the file: a module with versioned imports


_MEDIA = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
}


def _scan_assets() -> dict[str, Asset]:
    """Every file the browser may download, by URL name, with a content hash for its URL."""
    found: dict[str, Path] = {}
    for folder in ("css", "js", "icons"):
        for path in sorted((PWA_DIR / folder).rglob("*")):
            if path.is_file() and path.suffix in _MEDIA:
                found[path.relative_to(PWA_DIR).as_posix()] = path
    if HTMX_FILE.exists():
        found["vendor/htmx.min.js"] = HTMX_FILE
    assets = {
        name: Asset(path, hashlib.sha256(path.read_bytes()).hexdigest()[:12], _MEDIA[path.suffix])
        for name, path in found.items()
    }
    modules = {name: path.read_bytes() for name, path in found.items() if name.startswith("js/")}
    for name, (content, version) in version_modules(modules).items():
        assets[name] = Asset(found[name], version, _MEDIA[".js"], content)
    return assets


ASSETS = _scan_assets()


def static_url(name: str) -> str:
    asset = ASSETS.get(name)
    if asset is None:
        raise LookupError(f"no static asset {name!r} (is htmx installed? run `make setup`)")
    return f"/static/{name}?v={asset.version}"


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """The one filter that shows a stored UTC time in China's time zone."""
    if value is None:
        return ""
    return value.astimezone(LOCAL_TZ).strftime(fmt)


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, role)


templates = Jinja2Blocks(directory=str(PWA_DIR / "templates"))
templates.env.filters["local_time"] = local_time
templates.env.filters["role_name"] = role_name
templates.env.globals["static_url"] = static_url
templates.env.globals["htmx_available"] = lambda: "vendor/htmx.min.js" in ASSETS


def nl2br(text: str) -> Markup:
    """Line breaks of user text kept, the text itself escaped."""
    return Markup("<br>").join(Markup.escape(line) for line in text.splitlines())


templates.env.filters["nl2br"] = nl2br


class LazyCsrfToken:
    """The session's CSRF token, made only when a template prints it.

    A public page without a form (the service guide) then sets no cookie, so a shared cache
    may keep it without handing one visitor's session to the next.
    """

    def __init__(self, session: dict[str, Any] | None) -> None:
        self.session = session

    def __str__(self) -> str:
        return csrf_token(self.session) if self.session is not None else ""

    def __html__(self) -> str:
        return str(self)

    def __bool__(self) -> bool:
        return self.session is not None


def wants_fragment(request: Request) -> bool:
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def base_context(request: Request) -> dict[str, Any]:
    return {
        "request": request,
        "user": request.scope.get("user"),
        "node": request.app.state.settings,
        "csrf_token": LazyCsrfToken(request.scope.get("session")),
        "flash": pop_flash(request) if "session" in request.scope else "",
        "clock_warning": clock_warning(request),
        "unread_count": request.scope.get("unread_count"),  # server/notify/badge.py
    }


CLOCK_SKEW_LIMIT_S = 300  # beyond five minutes deadlines and certificates go wrong


def clock_warning(request: Request) -> int | None:
    """The skew against the county (seconds) when past the limit: the sync loop measures it."""
    skew = getattr(request.app.state, "clock_skew", None)
    return skew if isinstance(skew, int) and abs(skew) > CLOCK_SKEW_LIMIT_S else None


def render(
    request: Request,
    template: str,
    page: Any = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render a page (or its block, for htmx) from its context dataclass."""
    context = base_context(request)
    if page is not None:
        if not dataclasses.is_dataclass(page):
            raise TypeError("a page's context is a dataclass")
        context.update({f.name: getattr(page, f.name) for f in dataclasses.fields(page)})
    block_name = block if block and wants_fragment(request) else None
    response = templates.TemplateResponse(
        request,
        template,
        context,
        status_code=status_code,
        headers=headers,
        block_name=block_name,
    )
    response.headers["Vary"] = "HX-Request"
    response.headers["Cache-Control"] = "no-cache, private"
    return response
