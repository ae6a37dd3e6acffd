"""The public service guide (办事指南) of one item: the 十公开 on one printable page.

Anyone may read it, signed in or not: the catalogue is public information, and the guide is
what a centre prints for its wall and what a resident's phone opens from the QR code on it.
The QR code is drawn here, as an SVG `data:` URI (the CSP allows `img-src data:`), so the page
needs no script and no second request.
"""

from __future__ import annotations

from dataclasses import dataclass

import segno
from starlette.requests import Request
from starlette.responses import Response

from server.catalog.queries import ItemView, item_by_code
from server.catalog.views import CHOICES
from server.context import get_db, public_link
from server.templating import render

QR_SCALE = 3  # pixels per module: about 3 cm across on paper, enough for a phone camera
PUBLIC_MAX_AGE = 300  # the guide changes only when the county edits the item


@dataclass
class GuidePage:
    view: ItemView
    choices: dict[str, dict[str, str]]
    guide_url: str  # the canonical absolute address, the one the QR code holds
    qr_src: str  # data:image/svg+xml URI
    qr_size: int  # width and height in CSS pixels
    print_view: bool


def guide_qr(url: str) -> tuple[str, int]:
    """The QR code of `url` as an SVG data URI, and its size in pixels."""
    code = segno.make(url, error="m")
    width, _height = code.symbol_size(scale=QR_SCALE)
    return code.svg_data_uri(scale=QR_SCALE), int(width)


async def guide_show(request: Request) -> Response:
    """Public: no sign-in. Found by implementation code or basic code; retired items say so."""
    async with get_db(request).session() as session:
        view = await item_by_code(session, request.path_params["code"])
    # The QR code always names the implementation code: a basic code may later match another
    # item (several implementations share one), and a printed code must never change meaning.
    url = public_link(request, f"/guide/{view.item.implementation_code}")
    qr_src, qr_size = guide_qr(url)
    page = GuidePage(
        view, CHOICES, url, qr_src, qr_size, print_view=request.query_params.get("print") == "1"
    )
    response = render(request, "catalog/guide.html", page)
    # Public data may be cached anywhere; a signed-in user's copy carries their name and CSRF
    # token in the header and the <body>, so it stays in their own browser only.
    scope = "public" if request.scope.get("user") is None else "private"
    response.headers["Cache-Control"] = f"{scope}, max-age={PUBLIC_MAX_AGE}"
    return response
