"""A relayed case between a county and a township (in one process, each its own database):
the county's decision reaches the township and tells its clerk and the applicant, once."""

from __future__ import annotations

from server.notify.gateways import LogGateway
from server.notify.sms import send_due_sms
from tests.notify_support import texts, told
from tests.relay_fixtures import extra_postgres, linked
from tests.relay_nodes import COUNTY, TOWNSHIP_A, Node, command, open_case, sync

__all__ = ["extra_postgres", "linked"]  # fixtures


async def _relayed(county: Node, township: Node) -> str:
    case = await open_case(township, relayed=True)
    for name in ("accept", "start_review", "mark_ready", "relay"):
        await command(township, case.id, name)
    await sync(township, county)
    return case.id


async def test_the_county_decision_tells_the_relaying_clerk_and_the_applicant(
    linked: dict[str, Node],
) -> None:
    county, township = linked[COUNTY], linked[TOWNSHIP_A]
    case_id = await _relayed(county, township)
    await command(county, case_id, "county_decide", {"outcome": "approve"})
    assert await texts(county.app) == []  # the county neither texts nor tells township staff
    await sync(township, county)
    await sync(township, county)  # a second round brings nothing new: nobody told twice
    (note,) = await told(township.app, township.clerk)
    assert (note.kind, note.title, note.link) == ("result", "上报件结果已返回", f"/cases/{case_id}")
    (sms,) = await texts(township.app)
    assert sms.status == "queued"

    gateway = LogGateway()
    db, cipher = township.app.state.db, township.app.state.cipher
    report = await send_due_sms(db, cipher, gateway)
    again = await send_due_sms(db, cipher, gateway)
    assert (report.sent, again.sent) == (1, 0)
    ((number, text),) = gateway.sent
    assert number == "139****5678"
    assert text.startswith("您的办件") and "已办结，请携带身份证到青山镇便民服务中心领取。" in text
    (sms,) = await texts(township.app)
    assert sms.status == "sent" and sms.attempts == 1 and sms.sent_at is not None


async def test_a_supplement_asked_by_the_county_tells_the_township(
    linked: dict[str, Node],
) -> None:
    county, township = linked[COUNTY], linked[TOWNSHIP_A]
    case_id = await _relayed(county, township)
    await command(county, case_id, "notify_missing", {"missing": ["申请书"], "note": "请补齐"})
    await sync(township, county)
    (note,) = await told(township.app, township.clerk)
    assert (note.kind, note.title) == ("supplement", "县级要求补正材料")
    assert await texts(township.app) == []
