"""The case actions through the JSON API: the same actions, access and lists as the pages,
the applicant always masked, and the errors as JSON in Chinese."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from server.auth.actions import do_create_token
from server.auth.models import Role, User
from tests.conftest import csrf_of, make_client, signed_in
from tests.factories import OTHER_TOWNSHIP, Personas, make_item, make_persona_case, make_user
from tests.http.test_case_log import ID_NUMBER, PHONE, claim


async def _headers(app: Starlette, user: User) -> dict[str, str]:
    async with app.state.db.session() as session:
        _row, token = await do_create_token(session=session, user=user, name="自助终端", days=None)
    return {"Authorization": f"Bearer {token}"}


def _intake(personas: Personas, **over: Any) -> dict[str, Any]:
    assert personas.item is not None
    return {
        "item_id": personas.item.id,
        "channel": "window",
        "applicant_name": "王秀兰",
        "applicant_id_type": "resident_id",
        "applicant_id": ID_NUMBER,
        "applicant_phone": PHONE,
        "applicant_address": "青山镇青山村三组 12 号",
        "materials": [{"name": "居民身份证", "original": True, "copy": True}],
        **over,
    }


def _no_numbers(response: httpx.Response) -> None:
    assert ID_NUMBER not in response.text and PHONE not in response.text


async def test_create_list_and_show_with_a_token(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    headers = await _headers(app, personas.township_officer)
    async with make_client(app) as client:
        created = await client.post("/api/cases", json=_intake(personas), headers=headers)
        assert created.status_code == 201, created.text
        case = created.json()
        _no_numbers(created)
        assert case["state"] == "submitted" and case["kind"] == "promised"
        assert case["applicant"]["id_number"] == "110105********002X"
        assert case["applicant"]["phone"] == "139****5678"
        assert case["warnings"] == []
        assert "accept" in case["commands"] and "rate" not in case["commands"]
        [submit] = case["timeline"]
        assert submit["seq"] == 1 and submit["kind"] == "submit" and submit["name"] == "提交"
        assert submit["actor"] == personas.township_officer.display_name
        assert "收到材料：居民身份证（原件、复印件）" in submit["details"]

        listed = await client.get("/api/cases", headers=headers)
        assert listed.status_code == 200
        body = listed.json()
        assert body["total"] == 1 and body["page"] == 1 and body["pages"] == 1
        assert [row["serial"] for row in body["items"]] == [case["serial"]]
        assert body["items"][0]["state_name"] == "已提交"
        _no_numbers(listed)
        by_id = await client.get(f"/api/cases?q={ID_NUMBER}&scope=centre", headers=headers)
        assert by_id.json()["total"] == 1
        none = await client.get("/api/cases?state=decided", headers=headers)
        assert none.json() == {"items": [], "total": 0, "page": 1, "pages": 1, "size": 20}

        shown = await client.get(f"/api/cases/{case['id']}", headers=headers)
        assert shown.status_code == 200
        assert shown.json()["serial"] == case["serial"]
        _no_numbers(shown)


async def test_accept_review_decide_deliver(app: Starlette, personas: Personas) -> None:
    case_id = await make_persona_case(app, personas)
    headers = await _headers(app, personas.township_officer)
    steps: list[tuple[str, dict[str, Any], str]] = [
        ("accept", {}, "accepted"),
        ("start_review", {}, "in_review"),
        ("decide", {"outcome": "approve"}, "decided"),
        ("deliver", {"method": "post", "ems_number": "EA123456789CN"}, "delivered"),
    ]
    async with make_client(app) as client:
        for seq, (command, body, state) in enumerate(steps, start=2):
            response = await client.post(
                f"/api/cases/{case_id}/commands/{command}", json=body, headers=headers
            )
            assert response.status_code == 200, response.text
            case = response.json()
            assert case["state"] == state
            assert [e["seq"] for e in case["timeline"]] == list(range(1, seq + 1))
            assert case["timeline"][-1]["kind"] == command
        _no_numbers(response)
    assert case["accepted_at"] and case["due_at"] and case["completed_at"] and case["delivered_at"]
    assert case["commands"] == []
    assert "EMS 邮件号：EA123456789CN" in case["timeline"][-1]["details"]
    assert case["timeline"][3]["name"] == "办结（准予/不予）"


async def test_errors_are_json_in_chinese(app: Starlette, personas: Personas) -> None:
    case_id = await make_persona_case(app, personas)
    clerk = await _headers(app, personas.township_officer)
    supervisor = await _headers(app, personas.by_role[Role.SUPERVISOR])
    commands = f"/api/cases/{case_id}/commands"
    async with make_client(app) as client:
        refused = await client.post(
            f"{commands}/decide", json={"outcome": "approve"}, headers=clerk
        )
        assert refused.status_code == 409
        assert refused.json()["status_code"] == 409 and "办结" in refused.json()["detail"]

        invalid = await client.post(f"{commands}/refuse", json={}, headers=clerk)
        assert invalid.status_code == 422
        assert invalid.json()["errors"] == {
            "reasons": "不予受理必须写明理由，并告知申请人依法享有的权利"
        }
        assert invalid.json()["detail"] == invalid.json()["errors"]["reasons"]
        gaps = await client.post(
            f"{commands}/accept_with_gaps",
            json={"gaps": ["居民身份证"], "commit_by": "2999-01-01"},
            headers=clerk,
        )
        assert gaps.status_code == 422 and "不允许容缺受理" in gaps.json()["errors"]["gaps"]

        bad_id = await client.post(
            "/api/cases", json=_intake(personas, applicant_id="110105194912310021"), headers=clerk
        )
        assert bad_id.status_code == 422 and "applicant_id" in bad_id.json()["errors"]

        for name in ("rate", "submit", "county_decide", "nothing"):
            unknown = await client.post(f"{commands}/{name}", json={}, headers=clerk)
            assert unknown.status_code == 404
            assert unknown.json()["detail"] == "没有这个办理操作"

        forbidden = await client.post(f"{commands}/accept", headers=supervisor)
        assert forbidden.status_code == 403
        assert forbidden.json()["detail"] == "只有窗口工作人员可以办理办件"
        no_intake = await client.post("/api/cases", json=_intake(personas), headers=supervisor)
        assert no_intake.status_code == 403 and no_intake.json()["detail"] == "您的角色不能受理办件"

        anonymous = await client.get("/api/cases")
        assert anonymous.status_code == 401 and anonymous.json()["detail"] == "请先登录"
        # Nothing was written by the refusals: the case is still where it began.
        shown = await client.get(f"/api/cases/{case_id}", headers=clerk)
        assert shown.json()["state"] == "submitted" and len(shown.json()["timeline"]) == 1


async def test_other_township_and_agent_see_nothing(app: Starlette, personas: Personas) -> None:
    case_id = await make_persona_case(app, personas)
    other = await make_user(
        app, role=Role.CLERK, username="other.clerk", org_unit_code=OTHER_TOWNSHIP
    )
    for user in (other, personas.village_clerk):
        headers = await _headers(app, user)
        async with make_client(app) as client:
            shown = await client.get(f"/api/cases/{case_id}", headers=headers)
            assert shown.status_code == 404 and shown.json()["detail"] == "没有找到这个办件"
            command = await client.post(
                f"/api/cases/{case_id}/commands/accept", json={}, headers=headers
            )
            assert command.status_code == 404 and command.json()["detail"] == "没有找到这个办件"
            listed = await client.get("/api/cases?scope=centre", headers=headers)
            assert listed.json()["total"] == 0


async def test_a_cookie_client_sends_the_csrf_header(app: Starlette, personas: Personas) -> None:
    case_id = await make_persona_case(app, personas)
    async with signed_in(app, personas.township_officer.username) as client:
        path = f"/api/cases/{case_id}/commands/accept"
        assert (await client.post(path, json={})).status_code == 403
        token = await csrf_of(client, "/cases/new")
        accepted = await client.post(path, json={}, headers={"X-CSRF-Token": token})
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"


async def test_schema_documents_the_case_paths(app: Starlette) -> None:
    async with make_client(app) as client:
        schema = (await client.get("/api/schema")).json()
    assert {
        "/cases",
        "/cases/{case_id}",
        "/cases/{case_id}/commands/{command}",
    } <= set(schema["paths"])
    assert {"get", "post"} <= set(schema["paths"]["/cases"])
    components = schema["components"]["schemas"]
    material = components["MaterialIn"]["properties"]
    assert set(material) == {"name", "original", "copy"}
    assert material["copy"]["description"] == "是否收到复印件"
    detail = components["CaseDetail"]["properties"]
    assert {"serial", "state", "applicant", "timeline", "commands"} <= set(detail)
    assert "隐藏" in components["Applicant"]["properties"]["id_number"]["description"]
    assert "reasons" in components["CommandBody"]["properties"]


async def test_an_immediate_case_in_one_sitting(app: Starlette, personas: Personas) -> None:
    quick = await make_item(
        app,
        basic_code="990100201000",
        name="老年人优待证办理",
        handling_kind="immediate",
        promised_limit=0,
    )
    personas.item = quick
    await claim(app, personas)
    headers = await _headers(app, personas.township_officer)
    async with make_client(app) as client:
        created = await client.post("/api/cases", json=_intake(personas), headers=headers)
        assert created.status_code == 201, created.text
        case = created.json()
        assert case["kind"] == "immediate" and case["kind_name"] == "即办件"
        assert case["applicant"]["address"] == "青山镇青山村三组 12 号"
        path = f"/api/cases/{case['id']}/commands"
        accepted = (await client.post(f"{path}/accept", json={}, headers=headers)).json()
        # Decided straight from acceptance: an immediate case has no review and no extension.
        assert accepted["state"] == "accepted" and "start_review" not in accepted["commands"]
        assert "decide" in accepted["commands"] and "extend" not in accepted["commands"]
        assert accepted["relay_due_at"] is None
        decided = await client.post(f"{path}/decide", json={"outcome": "approve"}, headers=headers)
        assert decided.status_code == 200 and decided.json()["state"] == "decided"
        delivered = await client.post(f"{path}/deliver", json={"method": "window"}, headers=headers)
        case = delivered.json()
        assert case["state"] == "delivered" and case["commands"] == []
        assert [e["kind"] for e in case["timeline"]] == ["submit", "accept", "decide", "deliver"]
        # The whole sitting fits the immediate limit: due, decided and delivered on one day.
        assert case["due_at"] and case["completed_at"] and case["delivered_at"]
        assert case["completed_at"][:10] == case["delivered_at"][:10] == case["accepted_at"][:10]


async def test_a_relayed_case_reports_its_relay_deadline(
    app: Starlette, personas: Personas
) -> None:
    personas.item = await make_item(
        app,
        basic_code="990700101000",
        name="最低生活保障审核确认",
        handling_kind="relayed",
        decision_body="示范县民政局",
    )
    await claim(app, personas)
    headers = await _headers(app, personas.township_officer)
    async with make_client(app) as client:
        case = (await client.post("/api/cases", json=_intake(personas), headers=headers)).json()
        assert case["relay_due_at"] is None  # not accepted yet
        path = f"/api/cases/{case['id']}/commands"
        accepted = (await client.post(f"{path}/accept", json={}, headers=headers)).json()
        assert accepted["due_at"] > accepted["relay_due_at"] > accepted["accepted_at"]
        for command in ("start_review", "mark_ready"):
            ready = (await client.post(f"{path}/{command}", json={}, headers=headers)).json()
        assert ready["relay_due_at"] == accepted["relay_due_at"]
        relayed = (await client.post(f"{path}/relay", json={}, headers=headers)).json()
        assert relayed["state"] == "relayed" and relayed["relay_due_at"] is None


async def test_wrong_types_are_named_by_field_in_chinese(
    app: Starlette, personas: Personas
) -> None:
    case_id = await make_persona_case(app, personas)
    headers = await _headers(app, personas.township_officer)
    async with make_client(app) as client:
        paging = await client.get("/api/cases?page=abc", headers=headers)
        assert paging.status_code == 422
        assert paging.json()["errors"] == {"page": "须是整数"}
        assert paging.json()["detail"] == "page：须是整数"

        body = {"item_id": "x", "applicant_name": 5}
        created = await client.post("/api/cases", json=body, headers=headers)
        assert created.status_code == 422
        assert created.json()["errors"] == {
            "item_id": "须是整数",
            "applicant_name": "须是文字（字符串）",
            "applicant_id": "必填，请提供",
        }

        extend = await client.post(
            f"/api/cases/{case_id}/commands/extend",
            json={"days": "ten", "missing": "申请书"},
            headers=headers,
        )
        assert extend.status_code == 422
        assert extend.json()["errors"] == {"days": "须是整数", "missing": "须是列表（数组）"}

        broken = await client.post(
            "/api/cases",
            content=b"{not json",
            headers={**headers, "Content-Type": "application/json"},
        )
        assert broken.status_code == 400 and "有效的 JSON" in broken.json()["detail"]
        # Nested past the parser's recursion limit: the same 400, not a 500.
        for path in ("/api/cases", "/api/push/subscriptions"):
            deep = await client.post(
                path,
                content=b"[" * 100_000 + b"]" * 100_000,
                headers={**headers, "Content-Type": "application/json"},
            )
            assert deep.status_code == 400 and "有效的 JSON" in deep.json()["detail"], path
        huge = await client.post(
            "/api/cases",
            content=b" " * (11 * 1024 * 1024),  # past Litestar's request body limit (10 MB)
            headers={**headers, "Content-Type": "application/json"},
        )
        assert huge.status_code == 413 and "太大" in huge.json()["detail"]
