"""What every response carries: headers, static caching, error pages in Chinese."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.templating import ASSETS
from tests.conftest import make_client, signed_in
from tests.factories import Personas


async def test_security_headers_on_pages(app: Starlette) -> None:
    async with make_client(app) as client:
        response = await client.get("/signin")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache, private"
    assert "<script>" not in response.text  # no inline script anywhere in the shell


async def test_static_assets_are_versioned_and_cached(app: Starlette) -> None:
    htmx = ASSETS["vendor/htmx.min.js"]
    async with make_client(app) as client:
        page = (await client.get("/signin")).text
        assert f"/static/vendor/htmx.min.js?v={htmx.version}" in page
        fresh = await client.get(f"/static/vendor/htmx.min.js?v={htmx.version}")
        assert fresh.status_code == 200
        assert fresh.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert b"htmx" in fresh.content[:2000]
        stale = await client.get("/static/vendor/htmx.min.js?v=old")
        assert stale.headers["cache-control"] == "no-cache"
        assert (await client.get("/static/../server/settings.py")).status_code == 404
        assert (await client.get("/static/templates/base.html")).status_code == 404


async def test_pages_are_small(app: Starlette, personas: Personas) -> None:
    async with signed_in(app, "p.clerk") as client:
        home = await client.get("/", headers={"Accept-Encoding": "gzip"})
    # A few KB of HTML: the budget that keeps pages quick on one bar of signal.
    assert len(home.content) < 8_000


async def test_not_found_page_in_chinese(app: Starlette) -> None:
    async with make_client(app) as client:
        response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "页面不存在" in response.text and 'lang="zh-CN"' in response.text


async def test_server_error_page_hides_the_trace(app: Starlette) -> None:
    async def explode(request: Request) -> Response:
        raise RuntimeError("secret internals")

    app.router.routes.insert(0, Route("/explode", explode))
    async with make_client(app) as client:
        response = await client.get("/explode")
    assert response.status_code == 500
    assert "系统出错了" in response.text
    assert "secret internals" not in response.text and "Traceback" not in response.text


async def test_wrong_method_page_in_chinese(app: Starlette) -> None:
    async with make_client(app) as client:
        response = await client.get("/signout")
    assert response.status_code == 405
    assert "不支持这个操作" in response.text


async def test_admin_home_warns_of_a_missing_holiday_year(
    app: Starlette, personas: Personas
) -> None:
    # Today (2026-11 or later) needs next year's notice; the package knows only up to 2026.
    async with signed_in(app, "p.admin") as client:
        home = await client.get("/")
    assert "的节假日安排尚未录入" in home.text
    async with signed_in(app, "p.clerk") as client:
        assert "尚未录入" not in (await client.get("/")).text


ODD_NUMBERS = ["²", "１２", "9" * 20, "-1", "1.5"]  # isdigit() says yes to the first three


async def test_odd_numbers_in_the_address_are_never_a_500(
    app: Starlette, personas: Personas
) -> None:
    """Page numbers, ids and years typed into the address: ASCII digits that fit a column are
    numbers, anything else is as if absent (or the field's Chinese message)."""
    assert personas.item is not None
    item = personas.item.id
    async with signed_in(app, personas.admin.username) as client:
        for odd in ODD_NUMBERS:
            for url in (
                f"/cases?page={odd}",
                f"/cases?item={odd}",
                f"/catalog?page={odd}",
                f"/catalog/{item}?version={odd}",
                f"/catalog/{item}/compare?a={odd}&b={odd}",
                f"/admin/users?page={odd}",
                f"/admin/calendar?year={odd}",
                f"/cases/new?item={odd}",
                f"/notifications?page={odd}",
            ):
                response = await client.get(url)
                assert response.status_code in (200, 303, 404, 422), (url, response.status_code)
