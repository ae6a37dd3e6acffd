"""POST /api/nodes/enrol on the county: the code is the credential, used once, within 24 hours."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from server.audit.models import AuditLog
from server.db import utcnow
from server.nodes.codes import claim_code
from server.nodes.enrolment import REFUSALS, do_create_enrolment_code
from server.nodes.models import EnrolmentCode, NodePeer, PeerKey
from server.nodes.queries import child_peers, peer_public_keys, sender_keys
from server.org.models import OrgUnit
from sync.keys import NodeKeys, PublicKeys
from tests.conftest import make_client

TOWNSHIP = "990102101000"
OTHER = "990102102000"
MACHINE = {"Authorization": "Enrolment"}


async def new_code(county: Starlette, region: str = TOWNSHIP, name: str = "青山镇") -> str:
    async with county.state.db.session() as session:
        _row, code = await do_create_enrolment_code(
            session=session,
            settings=county.state.settings,
            actor=None,
            region_code=region,
            name=name,
        )
    return code


def body(code: str, keys: PublicKeys, region: str = TOWNSHIP, **over: Any) -> dict[str, Any]:
    return {
        "code": code,
        "region_code": region,
        "name": "青山镇便民服务中心",
        "keys": keys.to_json(),
    } | over


async def enrol(county: Starlette, payload: dict[str, Any]) -> httpx.Response:
    async with make_client(county) as client:
        return await client.post("/api/nodes/enrol", json=payload, headers=MACHINE)


async def test_a_good_code_enrols_the_township_and_answers_the_county_keys(
    county_app: Starlette,
) -> None:
    code = await new_code(county_app)
    township = NodeKeys.generate().public()
    response = await enrol(county_app, body(code.lower().replace("-", " "), township))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["region_code"] == "990102"
    assert answer["name"] == "示范县政务服务中心"
    assert PublicKeys.from_json(answer["keys"]) == county_app.state.node_keys.current.public()
    async with county_app.state.db.session() as session:
        [peer] = await child_peers(session)
        assert (peer.region_code, peer.name, peer.relation) == (TOWNSHIP, "青山镇", "child")
        assert await peer_public_keys(session, TOWNSHIP) == [township]
        found = await sender_keys(session, township.key_id)
        assert found is not None and found[1] == township
        unit = await session.get(OrgUnit, TOWNSHIP)
        assert unit is not None and unit.parent_code == "990102" and unit.level == "township"
        row = (await session.exec(select(EnrolmentCode))).one()
        assert row.used_at is not None
        audit = (await session.exec(select(AuditLog).where(AuditLog.action == "node.enrol"))).one()
        assert audit.target == TOWNSHIP and township.key_id.hex() in audit.detail


async def test_a_used_code_is_refused_the_second_time(county_app: Starlette) -> None:
    code = await new_code(county_app)
    keys = NodeKeys.generate().public()
    assert (await enrol(county_app, body(code, keys))).status_code == 200
    again = await enrol(county_app, body(code, keys))
    assert again.status_code == 403
    assert again.json()["detail"] == REFUSALS["used"]


async def test_a_claim_lost_to_a_simultaneous_enrolment_rolls_back(
    county_app: Starlette,
) -> None:
    await new_code(county_app)
    first = utcnow()
    async with county_app.state.db.session() as session:
        hashed = (await session.exec(select(EnrolmentCode))).one().code_hash
        assert await claim_code(session=session, model=EnrolmentCode, hashed=hashed, now=first)
        await session.commit()
    async with county_app.state.db.session() as session:
        session.add(NodePeer(region_code=TOWNSHIP, name="青山镇", relation="child"))
        later = first + dt.timedelta(minutes=1)
        assert not await claim_code(session=session, model=EnrolmentCode, hashed=hashed, now=later)
        await session.commit()
    async with county_app.state.db.session() as session:
        assert (await session.exec(select(EnrolmentCode))).one().used_at == first
        assert (await session.exec(select(NodePeer))).all() == []  # the loser wrote nothing


async def test_an_expired_code_is_refused(county_app: Starlette) -> None:
    code = await new_code(county_app)
    async with county_app.state.db.session() as session:
        row = (await session.exec(select(EnrolmentCode))).one()
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
        session.add(row)
        await session.commit()
    response = await enrol(county_app, body(code, NodeKeys.generate().public()))
    assert response.status_code == 403
    assert response.json()["detail"] == REFUSALS["expired"]
    assert "24 小时" in REFUSALS["expired"]


async def test_a_code_for_another_township_is_refused(county_app: Starlette) -> None:
    code = await new_code(county_app, region=OTHER, name="白水乡")
    response = await enrol(county_app, body(code, NodeKeys.generate().public()))
    assert response.status_code == 403
    assert response.json()["detail"] == REFUSALS["wrong_region"]
    async with county_app.state.db.session() as session:
        assert await child_peers(session) == []  # and the code is still good for its township
    good = await enrol(county_app, body(code, NodeKeys.generate().public(), region=OTHER))
    assert good.status_code == 200


async def test_unknown_and_mistyped_codes_get_the_same_answer(county_app: Starlette) -> None:
    code = await new_code(county_app)
    keys = NodeKeys.generate().public()
    mistyped = ("Z" if code[0] != "Z" else "Y") + code[1:]
    answers = [
        await enrol(county_app, body(candidate, keys))
        for candidate in (mistyped, "0000-0000-0000-0000", "not a code", "")
    ]
    assert {answer.status_code for answer in answers} == {403}
    assert {answer.json()["detail"] for answer in answers} == {REFUSALS["bad_code"]}


async def test_bad_keys_are_a_422_by_field(county_app: Starlette) -> None:
    code = await new_code(county_app)
    keys = NodeKeys.generate().public().to_json()
    broken = [
        keys | {"signing": keys["signing"][:-4] + "AAAA"},  # not on the curve
        keys | {"receiving": "%%%"},
        keys | {"key_id": "AAAAAAAAAAAAAAAAAAAAAA"},  # names other keys
        keys | {"receiving": keys["signing"]},
    ]
    for value in broken:
        response = await enrol(
            county_app, {**body(code, NodeKeys.generate().public()), "keys": value}
        )
        assert response.status_code == 422, response.text
        assert "keys" in response.json()["errors"]
    missing = await enrol(county_app, {"code": code, "region_code": TOWNSHIP, "name": "x"})
    assert missing.status_code == 422
    assert "keys" in missing.json()["errors"]
    # None of that spent the code.
    assert (await enrol(county_app, body(code, NodeKeys.generate().public()))).status_code == 200


async def test_a_region_outside_the_county_is_a_422(county_app: Starlette) -> None:
    code = await new_code(county_app)
    for region in ("990103101000", "990102101201", "990102"):
        response = await enrol(county_app, body(code, NodeKeys.generate().public(), region))
        assert response.status_code == 422, response.text
        assert "region_code" in response.json()["errors"]


async def test_refusals_are_rate_limited(county_app: Starlette) -> None:
    code = await new_code(county_app)
    keys = NodeKeys.generate().public()
    for _ in range(5):
        assert (await enrol(county_app, body("0000-0000-0000-0000", keys))).status_code == 403
    locked = await enrol(county_app, body(code, keys))
    assert locked.status_code == 429
    assert "分钟后再试" in locked.json()["detail"]
    async with county_app.state.db.session() as session:
        assert (await session.exec(select(EnrolmentCode))).one().used_at is None


async def test_a_browser_post_without_the_machine_header_is_refused(county_app: Starlette) -> None:
    code = await new_code(county_app)
    async with make_client(county_app) as client:
        response = await client.post(
            "/api/nodes/enrol", json=body(code, NodeKeys.generate().public())
        )
    assert response.status_code == 403  # CSRF: no token, no Authorization header


async def test_a_township_takes_no_enrolments(app: Starlette) -> None:
    response = await enrol(app, body("0000-0000-0000-0000", NodeKeys.generate().public()))
    assert response.status_code == 404
    assert "不是县级" in response.json()["detail"]


async def test_re_enrolment_replaces_the_keys_and_a_revoked_key_never_comes_back(
    county_app: Starlette,
) -> None:
    first, second = NodeKeys.generate().public(), NodeKeys.generate().public()
    assert (await enrol(county_app, body(await new_code(county_app), first))).status_code == 200
    assert (await enrol(county_app, body(await new_code(county_app), second))).status_code == 200
    async with county_app.state.db.session() as session:
        assert await peer_public_keys(session, TOWNSHIP) == [second]
        assert await sender_keys(session, first.key_id) is None  # revoked, not merely retired
        old = await session.get(PeerKey, first.key_id.hex())
        assert old is not None and old.revoked_at is not None
    again = await enrol(county_app, body(await new_code(county_app), first))
    assert again.status_code == 403
    assert again.json()["detail"] == REFUSALS["revoked_key"]


async def test_a_new_code_voids_the_earlier_unused_one(county_app: Starlette) -> None:
    earlier = await new_code(county_app)
    later = await new_code(county_app)
    keys = NodeKeys.generate().public()
    refused = await enrol(county_app, body(earlier, keys))
    assert refused.json()["detail"] == REFUSALS["expired"]
    assert (await enrol(county_app, body(later, keys))).status_code == 200
    async with county_app.state.db.session() as session:
        peer = await session.get(NodePeer, TOWNSHIP)
        assert peer is not None and peer.revoked_at is None
