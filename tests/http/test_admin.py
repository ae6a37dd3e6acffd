"""The admin's pages: accounts and windows, with their validation and their limits."""

from __future__ import annotations

import re

from starlette.applications import Starlette

from tests.conftest import make_client, post_form, sign_in, signed_in
from tests.factories import OTHER_TOWNSHIP, PASSWORD, VILLAGE, Personas, make_user

NEW_USER = {
    "display_name": "钱村代办",
    "username": "qian.agent",
    "phone": "13500135000",
    "role": "village_agent",
    "org_unit_code": VILLAGE,
}


async def test_create_user_shows_a_one_time_password_that_works(
    app: Starlette, personas: Personas
) -> None:
    async with signed_in(app, "p.admin") as client:
        response = await post_form(client, "/admin/users", NEW_USER, page="/admin/users/new")
        assert response.status_code == 200
        assert "用户已创建" in response.text
        found = re.search(r'aria-label="临时密码">([a-z0-9]+)<', response.text)
        assert found
        password = found.group(1)
        listing = await client.get("/admin/users?q=13500135000")
        assert "钱村代办" in listing.text and "共 1 人" in listing.text
    async with make_client(app) as newcomer:
        response = await sign_in(newcomer, "qian.agent", password)
        assert response.headers["location"] == "/account/password"


async def test_bad_input_is_named_and_kept(app: Starlette, personas: Personas) -> None:
    async with signed_in(app, "p.admin") as client:
        bad = {**NEW_USER, "phone": "12345", "role": "clerk", "username": "P"}
        response = await post_form(client, "/admin/users", bad, page="/admin/users/new")
        assert response.status_code == 422
        assert "手机号码应为 11 位数字" in response.text
        assert "用户名请用 3–32 位" in response.text
        assert 'value="钱村代办"' in response.text  # what was typed is still there
        assert 'value="12345"' in response.text
        wrong_level = {**NEW_USER, "role": "clerk"}
        response = await post_form(client, "/admin/users", wrong_level, page="/admin/users/new")
        assert "窗口工作人员只能属于" in response.text
        taken = {**NEW_USER, "username": "p.clerk"}
        response = await post_form(client, "/admin/users", taken, page="/admin/users/new")
        assert "已被使用" in response.text


async def test_admin_cannot_reach_another_townships_accounts(
    app: Starlette, personas: Personas
) -> None:
    stranger = await make_user(app, username="baishui.clerk", org_unit_code=OTHER_TOWNSHIP)
    async with signed_in(app, "p.admin") as client:
        assert (await client.get(f"/admin/users/{stranger.id}")).status_code == 404
        response = await post_form(client, f"/admin/users/{stranger.id}/password", {})
        assert response.status_code == 404
        listing = await client.get("/admin/users?q=baishui")
        assert "baishui.clerk" not in listing.text
        outside = {**NEW_USER, "org_unit_code": OTHER_TOWNSHIP, "role": "clerk"}
        response = await post_form(client, "/admin/users", outside, page="/admin/users/new")
        assert response.status_code == 422 and "请选择所属单位" in response.text
        assert 'aria-invalid="true"' in response.text
        assert 'aria-describedby="h-org_unit_code e-org_unit_code"' in response.text
        assert 'id="e-org_unit_code"' in response.text


async def test_disabling_a_user_ends_their_session(app: Starlette, personas: Personas) -> None:
    clerk = personas.township_officer
    async with make_client(app) as victim, signed_in(app, "p.admin") as client:
        await sign_in(victim, clerk.username, PASSWORD)
        assert (await victim.get("/")).status_code == 200
        fields = {
            "display_name": clerk.display_name,
            "username": clerk.username,
            "phone": "",
            "role": "clerk",
            "org_unit_code": clerk.org_unit_code,
        }  # "active" unticked
        response = await post_form(client, f"/admin/users/{clerk.id}", fields)
        assert response.status_code == 303
        assert (await victim.get("/")).status_code == 303
        assert "已停用" in (await sign_in(victim, clerk.username, PASSWORD)).text


async def test_admin_cannot_disable_themself(app: Starlette, personas: Personas) -> None:
    me = personas.admin
    async with signed_in(app, "p.admin") as client:
        fields = {
            "display_name": me.display_name,
            "username": me.username,
            "phone": "",
            "role": "admin",
            "org_unit_code": me.org_unit_code,
        }
        response = await post_form(client, f"/admin/users/{me.id}", fields)
        assert response.status_code == 422 and "不能停用自己" in response.text


async def test_reset_password_forces_a_change(app: Starlette, personas: Personas) -> None:
    clerk = personas.township_officer
    async with signed_in(app, "p.admin") as client:
        response = await post_form(client, f"/admin/users/{clerk.id}/password", {})
        found = re.search(r'aria-label="临时密码">([a-z0-9]+)<', response.text)
        assert found
    async with make_client(app) as user:
        assert (await sign_in(user, clerk.username, PASSWORD)).status_code == 422
        response = await sign_in(user, clerk.username, found.group(1))
        assert response.headers["location"] == "/account/password"


async def test_user_list_pages_and_fragments(app: Starlette, personas: Personas) -> None:
    for number in range(25):
        await make_user(app, username=f"bulk.{number:02d}", display_name=f"批量{number:02d}")
    async with signed_in(app, "p.admin") as client:
        first = await client.get("/admin/users?q=bulk")
        assert "共 25 人" in first.text and "第 1 页，共 2 页" in first.text
        assert "bulk.00" in first.text and "bulk.24" not in first.text
        second = await client.get("/admin/users?q=bulk&page=2")
        assert "bulk.24" in second.text and "bulk.00" not in second.text
        beyond = await client.get("/admin/users?q=bulk&page=99")
        assert "第 2 页，共 2 页" in beyond.text
        fragment = await client.get("/admin/users?q=bulk", headers={"HX-Request": "true"})
        assert fragment.text.lstrip().startswith('<div id="users-results">')
        assert "<html" not in fragment.text
        assert "HX-Request" in fragment.headers["vary"]
        boosted = await client.get(
            "/admin/users?q=bulk", headers={"HX-Request": "true", "HX-Boosted": "true"}
        )
        assert "<html" in boosted.text


async def test_windows_with_a_and_b_posts(app: Starlette, personas: Personas) -> None:
    clerk, lead = personas.township_officer, personas.by_role["window_lead"]
    agent = personas.village_clerk
    async with signed_in(app, "p.admin") as client:
        same = {
            "number": "5",
            "name": "民政窗口",
            "post_a_id": str(clerk.id),
            "post_b_id": str(clerk.id),
            "active": "on",
        }
        response = await post_form(client, "/admin/windows", same, page="/admin/windows/new")
        assert response.status_code == 422 and "A 岗和 B 岗不能是同一个人" in response.text
        assert 'value="民政窗口"' in response.text
        not_staff = {**same, "post_b_id": str(agent.id)}
        response = await post_form(client, "/admin/windows", not_staff)
        assert "B 岗请选择本中心在岗的窗口工作人员" in response.text
        taken = {**same, "number": "1", "post_b_id": str(lead.id)}
        assert "1 号窗口已经存在" in (await post_form(client, "/admin/windows", taken)).text
        good = {**same, "post_b_id": str(lead.id)}
        response = await post_form(client, "/admin/windows", good)
        assert response.status_code == 303
        listing = await client.get("/admin/windows")
        assert "民政窗口" in listing.text and "新增 5 号窗口" in listing.text
    async with make_client(app) as user:
        await sign_in(user, clerk.username, PASSWORD)
        home = await user.get("/")
        assert "5 号窗口 · 民政窗口（A 岗）" in home.text
        assert "1 号窗口 · 综合受理窗口（A 岗）" in home.text
