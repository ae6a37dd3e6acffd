"""/manifest.webmanifest: what makes the village agent's app installable (W3C App Manifest)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from server.templating import static_url

THEME = "#b42318"  # the icon's red, also the top bar's colour in the installed app
BACKGROUND = "#ffffff"
ICONS = (
    ("icons/icon-192.png", 192, "any"),
    ("icons/icon-512.png", 512, "any"),
    ("icons/maskable-192.png", 192, "maskable"),
    ("icons/maskable-512.png", 512, "maskable"),
)


def manifest() -> dict[str, object]:
    """The manifest as a dict; icon URLs carry their content hashes."""
    return {
        "name": "一窗·村代办",
        "short_name": "村代办",
        "description": "村代办员离线受理办件：事项目录、填写申请、加密保存草稿。",
        "lang": "zh-CN",
        "id": "/agent",
        "start_url": "/agent",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME,
        "background_color": BACKGROUND,
        "icons": [
            {"src": static_url(src), "sizes": f"{size}x{size}", "type": "image/png", "purpose": p}
            for src, size, p in ICONS
        ],
    }


async def web_manifest(request: Request) -> Response:
    body = json.dumps(manifest(), ensure_ascii=False, indent=1).encode("utf-8")
    return Response(
        body, media_type="application/manifest+json", headers={"Cache-Control": "no-cache"}
    )
