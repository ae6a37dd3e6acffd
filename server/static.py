"""Static files: only the listed assets, with immutable caching when the URL names the version."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from server.auth.access import NotFound
from server.templating import ASSETS

IMMUTABLE = "public, max-age=31536000, immutable"


async def static_file(request: Request) -> Response:
    asset = ASSETS.get(request.path_params["path"])
    if asset is None:
        raise NotFound("没有这个文件")
    versioned = request.query_params.get("v") == asset.version
    if asset.content is not None:
        return Response(
            asset.content,
            media_type=asset.media_type,
            headers={"Cache-Control": IMMUTABLE if versioned else "no-cache"},
        )
    return FileResponse(
        asset.path,
        media_type=asset.media_type,
        headers={"Cache-Control": IMMUTABLE if versioned else "no-cache"},
    )
