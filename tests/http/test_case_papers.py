"""The papers a window prints: each only after its event, each with the serial, the centre's
name, the masked ID number and a QR code of the public progress page."""

from __future__ import annotations

import dataclasses
import datetime as dt

import httpx
from starlette.applications import Starlette

from server.auth.models import Role, User
from server.cases.actions import Intake, ReceivedMaterial
from server.cases.models import CaseRecord
from server.cases.papers import PAPERS, RIGHTS, mask_id
from server.catalog.actions import do_set_claims
from tests.conftest import make_client, signed_in
from tests.factories import (
    OTHER_TOWNSHIP,
    OTHER_VILLAGE,
    Personas,
    make_item,
    make_user,
    open_intake,
)
from tests.http.test_case_commands import MONDAY, apply
from tests.http.test_case_log import ID_NUMBER, PHONE

CENTRE = "青山镇便民服务中心"
MASKED = "110105********002X"


async def claim_all(app: Starlette, personas: Personas, *extra: int) -> None:
    assert personas.item is not None and personas.item.id is not None
    async with app.state.db.session() as session:
        await do_set_claims(
            session=session, actor=personas.admin, item_ids={personas.item.id, *extra}
        )


async def open_case(app: Starlette, actor: User, item_id: int) -> CaseRecord:
    intake = Intake(
        item_id=item_id,
        channel="window",
        applicant_name="王秀兰",
        applicant_id_type="resident_id",
        applicant_id=ID_NUMBER,
        applicant_phone=PHONE,
        applicant_address="青山镇青山村三组 12 号",
        materials=[ReceivedMaterial("居民身份证", original=True, copy=True)],
    )
    return await open_intake(app, actor, intake, at=MONDAY - dt.timedelta(minutes=20))


async def papers_of(client: httpx.AsyncClient, case: CaseRecord) -> dict[str, httpx.Response]:
    return {p: await client.get(f"/cases/{case.id}/papers/{p}") for p in PAPERS}


def assert_paper(response: httpx.Response, case: CaseRecord, title: str) -> None:
    assert response.status_code == 200, response.text
    page = response.text
    assert title in page and case.serial in page and CENTRE in page
    assert MASKED in page and ID_NUMBER not in page and PHONE not in page
    assert 'src="data:image/svg+xml' in page
    assert f"http://testserver/progress?serial={case.serial}" in page
    assert response.headers["cache-control"] == "no-store"


def test_masking_keeps_the_ends_only() -> None:
    assert mask_id(ID_NUMBER) == MASKED
    assert mask_id("E12345678") == "E*******8"


async def test_each_paper_appears_after_its_event(app: Starlette, personas: Personas) -> None:
    await claim_all(app, personas)
    assert personas.item is not None and personas.item.id is not None
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas.item.id)
    async with signed_in(app, clerk.username) as client:
        before = await papers_of(client, case)
        assert {p: r.status_code for p, r in before.items()} == dict.fromkeys(PAPERS, 404)
        assert "尚未受理" in before["acceptance"].text
        assert "不予受理" in before["refusal"].text

        case = await apply(app, clerk, case, "accept")
        papers = await papers_of(client, case)
        assert [p for p, r in papers.items() if r.status_code == 200] == ["acceptance"]
        acceptance = papers["acceptance"]
        assert_paper(acceptance, case, "受理通知书")
        assert "王秀兰" in acceptance.text and "测试事项" in acceptance.text
        assert "8 个工作日" in acceptance.text and "2026年11月26日" in acceptance.text
        assert "2026年11月16日" in acceptance.text  # accepted
        assert "居民身份证" in acceptance.text and "原件、复印件" in acceptance.text

        case = await apply(app, clerk, case, "start_review")
        case = await apply(app, clerk, case, "decide", {"outcome": "approve"})
        assert (await client.get(f"/cases/{case.id}/papers/delivery_receipt")).status_code == 404
        case = await apply(app, clerk, case, "deliver", {"method": "post", "ems_number": "EA12"})
        delivery = await client.get(f"/cases/{case.id}/papers/delivery_receipt")
        assert_paper(delivery, case, "送达回证")
        assert "邮寄送达" in delivery.text and "EA12" in delivery.text
        assert "受送达人（签名或盖章）" in delivery.text and "审批表" in delivery.text

        unknown = await client.get(f"/cases/{case.id}/papers/licence")
        assert unknown.status_code == 404 and "没有这种文书" in unknown.text


async def test_one_time_notice_lists_everything_and_refusal_states_rights(
    app: Starlette, personas: Personas
) -> None:
    await claim_all(app, personas)
    assert personas.item is not None and personas.item.id is not None
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas.item.id)
    missing = ["户口簿", "申请书", "村委会证明"]
    case = await apply(app, clerk, case, "notify_missing", {"missing": missing})
    async with signed_in(app, clerk.username) as client:
        notice = await client.get(f"/cases/{case.id}/papers/one_time_notice")
        assert_paper(notice, case, "一次性告知书")
        for name in missing:
            assert f"<li>{name}</li>" in notice.text
        assert "不计入办理时限" in notice.text
        assert "青山镇便民服务中心 1 号窗口" in notice.text  # where to bring them
        assert (await client.get(f"/cases/{case.id}/papers/refusal")).status_code == 404

        reasons = "申请人户籍不在本镇，不属于本中心受理范围"
        case = await apply(app, clerk, case, "refuse", {"reasons": reasons})
        refusal = await client.get(f"/cases/{case.id}/papers/refusal")
        assert_paper(refusal, case, "不予受理通知书")
        assert reasons in refusal.text and RIGHTS in refusal.text
        assert (
            "六十日内依法申请行政复议" in refusal.text
            and "六个月内依法提起行政诉讼" in refusal.text
        )
        # The one-time notice stays printable after the refusal; the acceptance never was.
        assert (await client.get(f"/cases/{case.id}/papers/one_time_notice")).status_code == 200
        assert (await client.get(f"/cases/{case.id}/papers/acceptance")).status_code == 404


async def test_gap_commitment_and_immediate_receipt(app: Starlette, personas: Personas) -> None:
    immediate = await make_item(
        app,
        basic_code="990100201000",
        name="老年人优待证办理",
        handling_kind="immediate",
        promised_limit=0,
    )
    assert immediate.id is not None and personas.item is not None and personas.item.id
    await claim_all(app, personas, immediate.id)
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas.item.id)
    case = await apply(
        app, clerk, case, "accept_with_gaps", {"gaps": ["申请书"], "commit_by": "2026-11-20"}
    )
    async with signed_in(app, clerk.username) as client:
        commitment = await client.get(f"/cases/{case.id}/papers/gap_commitment")
        assert_paper(commitment, case, "容缺受理承诺书")
        assert "<li>申请书</li>" in commitment.text and "2026年11月20日" in commitment.text
        assert "承诺人（签字）" in commitment.text and "sign-line" in commitment.text
        acceptance = await client.get(f"/cases/{case.id}/papers/acceptance")
        assert_paper(acceptance, case, "受理通知书")
        assert "容缺材料" in acceptance.text
        assert (await client.get(f"/cases/{case.id}/papers/immediate_receipt")).status_code == 404

        quick = await open_case(app, clerk, immediate.id)
        assert (await client.get(f"/cases/{quick.id}/papers/immediate_receipt")).status_code == 404
        quick = await apply(app, clerk, quick, "accept")
        receipt = await client.get(f"/cases/{quick.id}/papers/immediate_receipt")
        assert_paper(receipt, quick, "即办件收件单")
        assert "老年人优待证办理" in receipt.text and "当场办结" in receipt.text
        assert "申请人（签字）" in receipt.text


async def test_who_may_print(app: Starlette, personas: Personas) -> None:
    await claim_all(app, personas)
    assert personas.item is not None and personas.item.id is not None
    agent = personas.village_clerk
    filed = await open_case(app, agent, personas.item.id)
    filed = await apply(app, personas.township_officer, filed, "accept")
    path = f"/cases/{filed.id}/papers/acceptance"
    async with signed_in(app, agent.username) as client:
        assert_paper(await client.get(path), filed, "受理通知书")
    async with signed_in(app, personas.by_role[Role.WINDOW_LEAD].username) as client:
        assert (await client.get(path)).status_code == 200
    other_agent = await make_user(
        app, role=Role.VILLAGE_AGENT, username="other.agent", org_unit_code=OTHER_VILLAGE
    )
    elsewhere = await make_user(app, username="baishui.clerk", org_unit_code=OTHER_TOWNSHIP)
    for outsider in (other_agent, elsewhere):
        async with signed_in(app, outsider.username) as client:
            refused = await client.get(path)
            assert refused.status_code == 404 and "没有找到这个办件" in refused.text
    async with make_client(app) as anonymous:
        response = await anonymous.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/signin?next=")


async def test_the_decision_paper_says_the_outcome_and_the_rights(
    app: Starlette, personas: Personas
) -> None:
    await claim_all(app, personas)
    assert personas.item is not None and personas.item.id is not None
    clerk = personas.township_officer
    approved = await open_case(app, clerk, personas.item.id)
    denied = await open_case(app, clerk, personas.item.id)
    for case in (approved, denied):
        for command in ("accept", "start_review"):
            case = await apply(app, clerk, case, command)
    async with signed_in(app, clerk.username) as client:
        path = f"/cases/{approved.id}/papers/decision"
        response = await client.get(path)
        assert response.status_code == 404 and "尚未作出办理决定" in response.text
        approved = await apply(app, clerk, approved, "decide", {"outcome": "approve"})
        paper = await client.get(path)
        assert_paper(paper, approved, "准予办理决定书")
        assert "决定准予办理" in paper.text and "审批表" in paper.text  # the result's name
        assert "行政复议" not in paper.text

        reasons = "家庭人均收入高于本县最低生活保障标准"
        denied = await apply(app, clerk, denied, "decide", {"outcome": "deny", "reasons": reasons})
        paper = await client.get(f"/cases/{denied.id}/papers/decision")
        assert_paper(paper, denied, "不予办理决定书")
        assert reasons in paper.text and "决定不予办理" in paper.text
        assert "自收到本决定书之日起六十日内依法申请行政复议" in paper.text


async def test_the_case_page_lists_every_paper_its_events_gave(
    app: Starlette, personas: Personas
) -> None:
    await claim_all(app, personas)
    assert personas.item is not None and personas.item.id is not None
    clerk = personas.township_officer
    case = await open_case(app, clerk, personas.item.id)
    async with signed_in(app, clerk.username) as client:
        page = await client.get(f"/cases/{case.id}")
        assert "文书" not in page.text and "/papers/" not in page.text
        case = await apply(app, clerk, case, "notify_missing", {"missing": ["申请书"]})
        case = await apply(app, clerk, case, "supplement", {"received": ["申请书"]})
        case = await apply(app, clerk, case, "notify_missing", {"missing": ["户口簿"]})
        case = await apply(app, clerk, case, "supplement", {"received": ["户口簿"]})
        case = await apply(app, clerk, case, "accept")
        page = await client.get(f"/cases/{case.id}")
        links = [
            f'href="/cases/{case.id}/papers/one_time_notice?seq=2"',
            f'href="/cases/{case.id}/papers/one_time_notice?seq=4"',
            f'href="/cases/{case.id}/papers/acceptance?seq=6"',
        ]
        positions = [page.text.index(link) for link in links]
        assert positions == sorted(positions)  # in the order they happened
        assert page.text.count("/papers/") == len(links)
        # Each link opens its own event's paper: the first notice lists the first material.
        first = await client.get(f"/cases/{case.id}/papers/one_time_notice?seq=2")
        assert "<li>申请书</li>" in first.text and "户口簿" not in first.text


async def test_qr_codes_point_at_the_public_address_when_one_is_set(
    app: Starlette, personas: Personas
) -> None:
    await claim_all(app, personas)
    assert personas.item is not None and personas.item.id is not None
    clerk = personas.township_officer
    case = await apply(app, clerk, await open_case(app, clerk, personas.item.id), "accept")
    public = "https://zwfw.example.gov.cn/qingshan"
    app.state.settings = dataclasses.replace(app.state.settings, public_url=public)
    async with signed_in(app, clerk.username) as client:
        paper = await client.get(f"/cases/{case.id}/papers/acceptance")
        guide = await client.get(f"/guide/{personas.item.implementation_code}")
    assert f"{public}/progress?serial={case.serial}" in paper.text
    assert "http://testserver/progress" not in paper.text
    assert f"{public}/guide/{personas.item.implementation_code}" in guide.text
