"""The JSON API mounted at /api: one identity with the pages, tokens for machines."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select
from starlette.applications import Starlette

from server.auth.actions import do_create_token
from server.auth.models import ApiToken, User
from server.db import utcnow
from tests.conftest import make_client, signed_in
from tests.factories import Personas


async def _token(app: Starlette, user: User, days: int | None = None) -> str:
    async with app.state.db.session() as session:
        _row, token = await do_create_token(session=session, user=user, name="测试", days=days)
    return token


async def test_health_is_public_and_names_the_node(app: Starlette) -> None:
    async with make_client(app) as client:
        body = (await client.get("/api/health")).json()
    assert body == {
        "status": "ok",
        "version": "0.1.0",
        "role": "township",
        "region_code": "990102101000",
        "name": "青山镇便民服务中心",
        "database": "ok",
    }


async def test_me_with_the_page_session(app: Starlette, personas: Personas) -> None:
    async with signed_in(app, "p.clerk") as client:
        body = (await client.get("/api/me")).json()
    assert body["username"] == "p.clerk"
    assert body["role"] == "clerk" and body["role_name"] == "窗口工作人员"
    assert body["auth_via"] == "session"


async def test_me_with_a_bearer_token(app: Starlette, personas: Personas) -> None:
    token = await _token(app, personas.admin)
    async with make_client(app) as client:
        response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert response.json()["auth_via"] == "token"
        assert response.json()["username"] == "p.admin"
        wrong = await client.get("/api/me", headers={"Authorization": "Bearer yc_nope"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "请先登录"
    async with app.state.db.session() as session:
        stored = (await session.exec(select(ApiToken))).one()
    assert token not in stored.token_hash and stored.last_used_at is not None


async def test_a_token_never_borrows_the_cookie(app: Starlette, personas: Personas) -> None:
    async with signed_in(app, "p.clerk") as client:
        response = await client.get("/api/me", headers={"Authorization": "Bearer yc_bad"})
        assert response.status_code == 401


async def test_revoked_expired_or_disabled_tokens_stop(app: Starlette, personas: Personas) -> None:
    token = await _token(app, personas.admin, days=30)
    headers = {"Authorization": f"Bearer {token}"}
    async with make_client(app) as client:
        assert (await client.get("/api/me", headers=headers)).status_code == 200
        async with app.state.db.session() as session:
            row = (await session.exec(select(ApiToken))).one()
            row.expires_at = utcnow() - dt.timedelta(seconds=1)
            session.add(row)
            await session.commit()
        assert (await client.get("/api/me", headers=headers)).status_code == 401
        async with app.state.db.session() as session:
            row = (await session.exec(select(ApiToken))).one()
            row.expires_at, row.revoked_at = None, utcnow()
            session.add(row)
            await session.commit()
        assert (await client.get("/api/me", headers=headers)).status_code == 401


async def test_openapi_document_is_the_contract(app: Starlette) -> None:
    async with make_client(app) as client:
        schema = (await client.get("/api/schema")).json()
    assert schema["servers"] == [{"url": "/api"}]
    assert {"/health", "/me"} <= set(schema["paths"])
    assert set(schema["components"]["schemas"]["Me"]["properties"]) >= {
        "id",
        "username",
        "role",
        "auth_via",
    }


async def test_api_errors_are_json_in_chinese(app: Starlette, personas: Personas) -> None:
    async with make_client(app) as client:
        missing = await client.get("/api/nothing-here")
        assert missing.status_code == 404
        assert missing.json()["detail"] == "没有这个接口或记录"
        wrong_method = await client.post("/api/health", headers={"Authorization": "Bearer x"})
        assert wrong_method.status_code == 405
        assert wrong_method.json()["detail"] == "这个接口不支持这种请求方法"
