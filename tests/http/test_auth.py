"""Signing in and out, CSRF, rate limiting, password changes and sessions."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import httpx
from itsdangerous import TimestampSigner
from sqlmodel import select
from starlette.applications import Starlette

from server.auth.models import User
from server.auth.sessions import COOKIE_NAME
from tests.conftest import csrf_of, make_client, post_form, sign_in
from tests.factories import PASSWORD, Personas, make_user


async def test_sign_in_by_username_or_phone_then_home(app: Starlette, personas: Personas) -> None:
    await make_user(app, username="by.phone", phone="13900139000", display_name="手机用户")
    async with make_client(app) as client:
        response = await sign_in(client, "139 0013 9000", PASSWORD)
        assert response.status_code == 303
        home = await client.get("/")
        assert home.status_code == 200
        assert "您好，手机用户" in home.text
        assert 'lang="zh-CN"' in home.text
    async with make_client(app) as client:
        assert (await sign_in(client, "P.Clerk", PASSWORD)).status_code == 303


async def test_cookie_flags(app: Starlette, personas: Personas) -> None:
    async with make_client(app) as client:
        response = await sign_in(client, "p.clerk", PASSWORD)
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # plain HTTP here; over HTTPS the flag is set
        value = cookie.split(";", 1)[0].split("=", 1)[1]
        # RFC 6265 cookie-octet: no quotes, commas, semicolons, backslashes or spaces.
        assert re.fullmatch(r"[!#-+\--:<-\[\]-~]+", value), value
    https = make_client(app)
    https.base_url = https.base_url.copy_with(scheme="https")
    async with https as client:
        response = await sign_in(client, "p.clerk", PASSWORD)
        assert "Secure" in response.headers["set-cookie"]


async def test_wrong_password_keeps_login_and_says_why(app: Starlette, personas: Personas) -> None:
    async with make_client(app) as client:
        response = await sign_in(client, "p.clerk", "wrong-password-1")
        assert response.status_code == 422
        assert "用户名（或手机号）与密码不匹配" in response.text
        assert 'value="p.clerk"' in response.text
        assert (await client.get("/")).status_code == 303


async def test_lockout_after_repeated_failures(app: Starlette, personas: Personas) -> None:
    async with make_client(app) as client:
        for _ in range(5):
            assert (await sign_in(client, "p.clerk", "wrong-password-1")).status_code == 422
        # Now even the right password is refused for a while, with a message that says so.
        response = await sign_in(client, "p.clerk", PASSWORD)
        assert response.status_code == 422
        assert "登录失败次数过多" in response.text and "分钟后再试" in response.text
        # Another account from the same address is not locked by it.
        assert (await sign_in(client, "p.admin", PASSWORD)).status_code == 303


async def test_unknown_user_is_throttled_the_same_way(app: Starlette, personas: Personas) -> None:
    async with make_client(app) as client:
        for _ in range(5):
            response = await sign_in(client, "nobody.here", "whatever-1")
            assert "用户名（或手机号）与密码不匹配" in response.text
        assert "登录失败次数过多" in (await sign_in(client, "nobody.here", "whatever-1")).text


async def test_post_without_csrf_token_is_refused(app: Starlette, personas: Personas) -> None:
    async with make_client(app) as client:
        await sign_in(client, "p.admin", PASSWORD)
        response = await client.post("/admin/windows", data={"name": "x", "number": "9"})
        assert response.status_code == 403
        assert "页面已过期" in response.text
        forged = await client.post("/admin/windows", data={"csrf_token": "forged", "number": "9"})
        assert forged.status_code == 403


async def test_csrf_header_for_htmx_and_origin_check(app: Starlette, personas: Personas) -> None:
    async with make_client(app) as client:
        await sign_in(client, "p.admin", PASSWORD)
        token = await csrf_of(client, "/")
        ok = await client.post(
            "/admin/windows",
            data={"number": "9"},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        assert ok.status_code == 422  # past CSRF: the form itself was incomplete
        cross = await client.post(
            "/admin/windows",
            data={"number": "9", "csrf_token": token},
            headers={"Origin": "http://evil.example"},
        )
        assert cross.status_code == 403
        assert "来自其他网站" in cross.text


async def test_sign_out_ends_the_session(app: Starlette, personas: Personas) -> None:
    async with make_client(app) as client:
        await sign_in(client, "p.clerk", PASSWORD)
        response = await post_form(client, "/signout", {})
        assert response.status_code == 303
        assert response.headers["location"] == "/signin?bye=1"
        assert "您已安全退出" in (await client.get("/signin?bye=1")).text
        assert (await client.get("/")).headers["location"] == "/signin?next=/"


async def test_password_change_ends_other_sessions(app: Starlette, personas: Personas) -> None:
    async with make_client(app) as laptop, make_client(app) as phone:
        await sign_in(laptop, "p.clerk", PASSWORD)
        await sign_in(phone, "p.clerk", PASSWORD)
        bad = await post_form(
            laptop, "/account/password", {"current": PASSWORD, "new": "short", "confirm": "short"}
        )
        assert bad.status_code == 422 and "至少需要 8 位" in bad.text
        response = await post_form(
            laptop,
            "/account/password",
            {"current": PASSWORD, "new": "new-pass-2027", "confirm": "new-pass-2027"},
        )
        assert response.status_code == 303
        assert (await laptop.get("/")).status_code == 200  # this session goes on
        assert (await phone.get("/")).status_code == 303  # the other one ended
    async with make_client(app) as client:
        assert (await sign_in(client, "p.clerk", PASSWORD)).status_code == 422
        assert (await sign_in(client, "p.clerk", "new-pass-2027")).status_code == 303


async def test_temporary_password_must_be_changed_first(app: Starlette, personas: Personas) -> None:
    await make_user(app, username="new.clerk", must_change_password=True)
    async with make_client(app) as client:
        response = await sign_in(client, "new.clerk", PASSWORD)
        assert response.headers["location"] == "/account/password"
        assert (await client.get("/")).headers["location"] == "/account/password"
        assert (await client.get("/api/me")).status_code == 403
        page = await client.get("/account/password")
        assert "临时密码" in page.text
        done = await post_form(
            client,
            "/account/password",
            {"current": PASSWORD, "new": "mine-2026x", "confirm": "mine-2026x"},
            page="/account/password",
        )
        assert done.status_code == 303
        home = await client.get("/")
        assert home.status_code == 200
        assert "密码已修改" in home.text  # the flash, shown once
        assert "密码已修改" not in (await client.get("/")).text


async def test_signin_next_is_followed_only_on_this_site(
    app: Starlette, personas: Personas
) -> None:
    async with make_client(app) as client:
        token = await csrf_of(client)
        response = await client.post(
            "/signin",
            data={
                "login": "p.admin",
                "password": PASSWORD,
                "csrf_token": token,
                "next": "https://evil.example/",
            },
        )
        assert response.headers["location"] == "/"
    async with make_client(app) as client:
        first = await client.get("/admin/users?q=x")
        assert first.headers["location"] == "/signin?next=/admin/users%3Fq%3Dx"
        token = await csrf_of(client, first.headers["location"])
        response = await client.post(
            "/signin",
            data={
                "login": "p.admin",
                "password": PASSWORD,
                "csrf_token": token,
                "next": "/admin/users?q=x",
            },
        )
        assert response.headers["location"] == "/admin/users?q=x"


async def test_phone_is_encrypted_at_rest(app: Starlette, personas: Personas) -> None:
    await make_user(app, username="with.phone", phone="13712345678")
    async with app.state.db.session() as session:
        user = (await session.exec(select(User).where(User.username == "with.phone"))).one()
    assert user.phone_enc and "13712345678" not in user.phone_enc
    assert user.phone_hash and "13712345678" not in user.phone_hash
    assert "13712345678" not in user.model_dump_json()


def _session_of(
    app: Starlette, client: httpx.AsyncClient
) -> tuple[TimestampSigner, dict[str, Any]]:
    """The session as the app signed it, read with the app's key (the test plays the attacker
    who cannot, and the clock that moves on)."""
    signer = TimestampSigner(app.state.settings.session_key, salt="yichuang.session")
    [raw] = [c.value for c in client.cookies.jar if c.name == COOKIE_NAME and c.value]
    data = json.loads(base64.urlsafe_b64decode(signer.unsign(raw.encode())))
    return signer, data


def _set_session(client: httpx.AsyncClient, signer: TimestampSigner, data: dict[str, Any]) -> None:
    payload = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, signer.sign(payload).decode())


async def test_sessions_end_when_idle_or_too_old(app: Starlette, personas: Personas) -> None:
    now = int(time.time())
    for since, seen in ((now - 3600, now - 31 * 60), (now - 12 * 3600 - 5, now)):
        async with make_client(app) as client:
            await sign_in(client, "p.clerk", PASSWORD)
            signer, data = _session_of(app, client)
            assert data["since"] >= now and data["seen"] >= now
            _set_session(client, signer, {**data, "since": since, "seen": seen})
            ended = await client.get("/cases")
            assert ended.status_code == 303
            assert ended.headers["location"] == "/signin?next=/cases&ended=1"
            assert "Max-Age=0" in ended.headers["set-cookie"]  # the cookie is dropped
            page = await client.get(ended.headers["location"])
            assert "已自动退出，请重新登录" in page.text


async def test_an_active_session_is_touched_at_most_once_a_minute(
    app: Starlette, personas: Personas
) -> None:
    async with make_client(app) as client:
        await sign_in(client, "p.clerk", PASSWORD)
        fresh = await client.get("/")
        assert fresh.status_code == 200 and "set-cookie" not in fresh.headers
        signer, data = _session_of(app, client)
        now = int(time.time())
        _set_session(client, signer, {**data, "seen": now - 20 * 60})  # idle, not too long
        touched = await client.get("/")
        assert touched.status_code == 200 and "set-cookie" in touched.headers
        value = touched.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
        after = json.loads(base64.urlsafe_b64decode(signer.unsign(value.encode())))
        assert after["seen"] >= now and after["since"] == data["since"]
