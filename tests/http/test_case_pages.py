"""The clerk's intake and the case page through HTTP: typed values kept on a refusal, the
applicant masked unless revealed (audited), every command's form, the state machine's refusal
in Chinese, and another township's clerk told the case does not exist."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from server.audit.models import AuditLog
from server.auth.models import Role
from server.cases.models import CaseRecord
from server.catalog.actions import do_set_claims
from server.db import Database
from tests.conftest import csrf_of, signed_in
from tests.factories import OTHER_TOWNSHIP, Personas, make_item, make_persona_case, make_user
from tests.http.test_case_log import ID_NUMBER, PHONE, claim

MASKED_ID = "110105********002X"
MASKED_PHONE = "139****5678"


def intake_form(personas: Personas, **over: str) -> dict[str, str]:
    assert personas.item is not None
    return {
        "item_id": str(personas.item.id),
        "applicant_kind": "natural",
        "applicant_name": "王秀兰",
        "applicant_id_type": "resident_id",
        "applicant_id": ID_NUMBER,
        "applicant_phone": PHONE,
        "applicant_address": "青山镇青山村三组 12 号",
        "channel": "window",
        **over,
    }


async def post(client: httpx.AsyncClient, path: str, data: Mapping[str, Any]) -> httpx.Response:
    token = await csrf_of(client, "/cases/new")
    return await client.post(path, data={**data, "csrf_token": token})


async def case_of(app: Starlette, case_id: str) -> CaseRecord:
    db: Database = app.state.db
    async with db.session() as session:
        case = await session.get(CaseRecord, case_id)
    assert case is not None
    return case


async def test_intake_lists_claimed_items_and_shows_the_checklist(
    app: Starlette, personas: Personas
) -> None:
    await claim(app, personas)
    assert personas.item is not None
    async with signed_in(app, personas.township_officer.username) as client:
        listing = await client.get("/cases/new?q=测试")
        assert listing.status_code == 200
        assert f'href="/cases/new?item={personas.item.id}"' in listing.text
        none = await client.get("/cases/new?q=没有这个事项")
        assert "没有找到" in none.text
        form = await client.get(f"/cases/new?item={personas.item.id}")
    assert form.status_code == 200
    assert "居民身份证" in form.text and "可容缺" in form.text and "承诺件" in form.text
    assert 'name="original" value="申请书"' in form.text


async def test_bad_intake_keeps_every_value_and_tick(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    async with signed_in(app, personas.township_officer.username) as client:
        data: dict[str, object] = {
            **intake_form(personas, applicant_id="110105194912310021", channel="post"),
            "original": ["居民身份证", "申请书"],
            "copy": ["居民身份证"],
        }
        response = await post(client, "/cases", data)
    assert response.status_code == 422
    page = response.text
    assert 'id="e-applicant_id"' in page and "身份证号码" in page
    assert 'value="110105194912310021"' in page and 'value="王秀兰"' in page
    assert 'value="青山镇青山村三组 12 号"' in page and f'value="{PHONE}"' in page
    assert re.search(r'<option value="post"\s+selected', page)
    assert re.search(r'name="original" value="申请书"\s+checked', page)
    assert re.search(r'name="copy" value="居民身份证"\s+checked', page)
    assert not re.search(r'name="copy" value="申请书"\s+checked', page)
    async with app.state.db.session() as session:
        assert (await session.exec(select(CaseRecord))).all() == []


async def test_unknown_material_is_refused(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    async with signed_in(app, personas.township_officer.username) as client:
        data = {**intake_form(personas), "original": "户口簿"}
        response = await post(client, "/cases", data)
    assert response.status_code == 422 and "户口簿不是本事项" in response.text


async def test_good_intake_lands_on_the_case_page(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    async with signed_in(app, personas.township_officer.username) as client:
        data = {**intake_form(personas), "original": ["居民身份证"], "copy": ["居民身份证"]}
        response = await post(client, "/cases", data)
        assert response.status_code == 303
        location = response.headers["location"]
        page = await client.get(location)
    case = await case_of(app, location.rsplit("/", 1)[1])
    assert page.status_code == 200
    assert case.serial in page.text and "已登记办件" in page.text
    assert "已提交" in page.text and "承诺件" in page.text
    assert "收到材料：居民身份证（原件、复印件）" in page.text
    assert personas.township_officer.display_name in page.text  # the timeline's actor
    assert MASKED_ID in page.text and MASKED_PHONE in page.text
    assert ID_NUMBER not in page.text and PHONE not in page.text


async def test_full_view_is_audited_and_not_for_village_agents(
    app: Starlette, personas: Personas
) -> None:
    case_id = await make_persona_case(app, personas)
    async with signed_in(app, personas.township_officer.username) as client:
        masked = await client.get(f"/cases/{case_id}")
        assert "显示完整信息" in masked.text
        full = await client.get(f"/cases/{case_id}?full=1")
    assert ID_NUMBER in full.text and PHONE in full.text
    async with app.state.db.session() as session:
        audits = (
            await session.exec(select(AuditLog).where(AuditLog.action == "case.reveal"))
        ).all()
    assert [(a.actor_id, a.target) for a in audits] == [(personas.township_officer.id, case_id)]

    # A village agent sees only the cases they filed, and never the full numbers.
    agent = personas.village_clerk
    async with signed_in(app, agent.username) as client:
        assert (await client.get(f"/cases/{case_id}")).status_code == 404
        data = {**intake_form(personas), "channel": "window"}
        created = await post(client, "/cases", data)
        assert created.status_code == 303
        own = created.headers["location"]
        page = await client.get(f"{own}?full=1")
    assert page.status_code == 200 and "村代办" in page.text
    assert MASKED_ID in page.text and ID_NUMBER not in page.text
    assert "显示完整信息" not in page.text and "确认受理" not in page.text
    async with app.state.db.session() as session:
        audits = (
            await session.exec(select(AuditLog).where(AuditLog.action == "case.reveal"))
        ).all()
    assert len(audits) == 1


async def test_a_promised_case_through_every_step(app: Starlette, personas: Personas) -> None:
    case_id = await make_persona_case(app, personas)
    steps: list[tuple[str, dict[str, object], str, str]] = [
        ("accept", {}, "accepted", "已受理，承诺"),
        ("start_review", {}, "in_review", "已开始审查"),
        ("extend", {"days": "3", "reason": "需要实地核查"}, "in_review", "已延期"),
        ("suspend", {"reason": "需要听证"}, "suspended", "已中止"),
        ("resume", {}, "in_review", "已恢复"),
        (
            "notify_missing",
            {"missing": ["申请书"], "other": "户口簿\n社会保障卡或银行账户（存折、银行卡）"},
            "awaiting_materials",
            "已一次性告知",
        ),
        ("supplement", {"received": ["申请书"]}, "in_review", "已补正"),
        ("decide", {"outcome": "approve"}, "decided", "已办结"),
        ("deliver", {"method": "post", "ems_number": "EA123456789CN"}, "delivered", "已送达"),
    ]
    async with signed_in(app, personas.township_officer.username) as client:
        for command, data, state, message in steps:
            page = await client.get(f"/cases/{case_id}")
            assert f'action="/cases/{case_id}/commands/{command}"' in page.text, command
            response = await post(client, f"/cases/{case_id}/commands/{command}", data)
            assert response.status_code == 303, (command, response.text[-500:])
            assert (await case_of(app, case_id)).state == state
            shown = await client.get(f"/cases/{case_id}")
            assert message in shown.text, command
        final = shown.text
    case = await case_of(app, case_id)
    assert case.due_at is not None and case.delivered_at is not None
    for line in (
        "受理",
        "开始审查",
        "延长 3 个工作日",
        "理由：需要实地核查",
        "理由：需要听证",
        "缺少或需补正的材料：申请书；户口簿；社会保障卡或银行账户（存折、银行卡）",
        "补正材料：申请书",
        "办理结果：准予",
        "送达方式：邮寄送达",
        "EMS 邮件号：EA123456789CN",
    ):
        assert line in final, line
    assert "办结时间" in final and "送达时间" in final
    assert "确认" not in final  # nothing is left to do on a delivered case (rating: applicant)


async def test_gaps_refuse_and_typed_values(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    clerk = personas.township_officer
    async with signed_in(app, clerk.username) as client:
        created = await post(client, "/cases", intake_form(personas))
        case_id = created.headers["location"].rsplit("/", 1)[1]
        # A validation failure keeps the typed values next to that command's form.
        bad = await post(
            client, f"/cases/{case_id}/commands/accept_with_gaps", {"gaps": ["申请书"]}
        )
        assert bad.status_code == 422
        assert "请填写申请人承诺补齐材料的日期" in bad.text
        assert re.search(r'name="gaps" value="申请书"\s+checked', bad.text)
        good = await post(
            client,
            f"/cases/{case_id}/commands/accept_with_gaps",
            {"gaps": ["申请书"], "commit_by": "2099-12-01"},
        )
        assert good.status_code == 303
        page = (await client.get(f"/cases/{case_id}")).text
        assert "已容缺受理，承诺" in page and "待补齐容缺材料" in page
        assert "承诺补齐日期：2099-12-01" in page
        await post(client, f"/cases/{case_id}/commands/start_review", {})
        # The guard: no decision while a gap is open, said in Chinese, 409.
        refused = await post(client, f"/cases/{case_id}/commands/decide", {"outcome": "approve"})
        assert refused.status_code == 409
        assert "还有 1 项容缺材料未补齐" in refused.text and 'role="alert"' in refused.text
        closed = await post(client, f"/cases/{case_id}/commands/close_gap", {"material": "申请书"})
        assert closed.status_code == 303
        page = (await client.get(f"/cases/{case_id}")).text
        assert "补齐：申请书" in page and "待补齐容缺材料" not in page

        other = await post(client, "/cases", intake_form(personas))
        other_id = other.headers["location"].rsplit("/", 1)[1]
        wrong = await post(client, f"/cases/{other_id}/commands/deliver", {"method": "window"})
        assert wrong.status_code == 409
        assert "当前状态为“已提交”，不能“送达”" in wrong.text
        no_reason = await post(client, f"/cases/{other_id}/commands/refuse", {"reasons": ""})
        assert no_reason.status_code == 422 and "不予受理必须写明理由" in no_reason.text
        refuse = await post(
            client, f"/cases/{other_id}/commands/refuse", {"reasons": "不属于本中心受理范围"}
        )
        assert refuse.status_code == 303
        assert (await case_of(app, other_id)).state == "refused"
        assert (await client.get(f"/cases/{other_id}/commands/nonsense")).status_code == 405
        assert (await post(client, f"/cases/{other_id}/commands/nonsense", {})).status_code == 404
        assert (await post(client, f"/cases/{other_id}/commands/rate", {})).status_code == 404


async def test_withdraw_and_immediate_cases(app: Starlette, personas: Personas) -> None:
    immediate = await make_item(
        app,
        basic_code="992000102000",
        name="即办测试事项",
        handling_kind="immediate",
        promised_limit=0,
    )
    assert personas.item is not None and personas.item.id is not None
    assert immediate.id is not None
    async with app.state.db.session() as session:
        await do_set_claims(
            session=session, actor=personas.admin, item_ids={personas.item.id, immediate.id}
        )
    async with signed_in(app, personas.township_officer.username) as client:
        created = await post(client, "/cases", intake_form(personas, item_id=str(immediate.id)))
        case_id = created.headers["location"].rsplit("/", 1)[1]
        for command, data in (
            ("accept", {}),
            ("decide", {"outcome": "deny", "reasons": "不符合条件"}),
        ):
            assert (
                await post(client, f"/cases/{case_id}/commands/{command}", data)
            ).status_code == 303
        page = (await client.get(f"/cases/{case_id}")).text
        assert "即办件" in page and "办理结果：不予" in page and "理由：不符合条件" in page
        second = await post(client, "/cases", intake_form(personas))
        second_id = second.headers["location"].rsplit("/", 1)[1]
        assert (await post(client, f"/cases/{second_id}/commands/withdraw", {})).status_code == 303
    assert (await case_of(app, second_id)).state == "withdrawn"


async def test_other_township_and_other_roles(app: Starlette, personas: Personas) -> None:
    case_id = await make_persona_case(app, personas)
    stranger = await make_user(
        app, role=Role.CLERK, username="b.clerk", org_unit_code=OTHER_TOWNSHIP
    )
    async with signed_in(app, stranger.username) as client:
        assert (await client.get(f"/cases/{case_id}")).status_code == 404
        assert (await post(client, f"/cases/{case_id}/commands/accept", {})).status_code == 404
    supervisor = personas.by_role[Role.SUPERVISOR]
    async with signed_in(app, supervisor.username) as client:
        page = await client.get(f"/cases/{case_id}")
        assert page.status_code == 200 and "确认受理" not in page.text
        assert (await client.get("/cases/new")).status_code == 403
    assert (await case_of(app, case_id)).state == "submitted"


async def test_joint_tasks_and_a_relay(app: Starlette, personas: Personas) -> None:
    joint = await make_item(
        app,
        basic_code="992000103000",
        name="联办测试事项",
        handling_kind="joint",
        lead_department="民政办",
        co_departments="残联\n卫生院",
    )
    relayed = await make_item(
        app,
        basic_code="992000104000",
        name="上报测试事项",
        handling_kind="relayed",
        decision_body="示范县民政局",
    )
    assert joint.id is not None and relayed.id is not None
    async with app.state.db.session() as session:
        await do_set_claims(session=session, actor=personas.admin, item_ids={joint.id, relayed.id})
    async with signed_in(app, personas.township_officer.username) as client:
        created = await post(client, "/cases", intake_form(personas, item_id=str(joint.id)))
        case_id = created.headers["location"].rsplit("/", 1)[1]
        await post(client, f"/cases/{case_id}/commands/accept", {})
        page = (await client.get(f"/cases/{case_id}")).text
        assert "联办中" in page and "残联；卫生院" in page
        assert '<option value="卫生院"' in page
        done = await post(client, f"/cases/{case_id}/commands/task_done", {"task": "卫生院"})
        assert done.status_code == 303
        page = (await client.get(f"/cases/{case_id}")).text
        assert "完成：卫生院" in page and "未完成联办任务</dt><dd>残联" in page
        assert (await case_of(app, case_id)).open_tasks == 1

        created = await post(client, "/cases", intake_form(personas, item_id=str(relayed.id)))
        case_id = created.headers["location"].rsplit("/", 1)[1]
        for command, state in (
            ("accept", "accepted"),
            ("start_review", "in_review"),
            ("mark_ready", "ready_to_relay"),
            ("relay", "relayed"),
        ):
            response = await post(client, f"/cases/{case_id}/commands/{command}", {})
            assert response.status_code == 303, command
            assert (await case_of(app, case_id)).state == state
        page = (await client.get(f"/cases/{case_id}")).text
    assert "已上报" in page and "县政务服务中心" in page
    assert "县级决定" not in page  # the county decides, on its own node
    assert "确认" not in page  # the county owns it now: nothing to do at the township
