"""Ingest and the endpoints' refusals: repeats are no-ops, a broken chain or an unknown item is
quarantined with its reason (and only its case), and every envelope that should not be opened
is refused with the reason code the log and the answer name.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from server.auth.actions import do_create_token
from server.auth.models import Role
from server.cases.events import events_of
from server.cases.models import CaseRecord
from server.catalog.actions import do_set_claims
from server.nodes.keys import ensure_node_keys
from server.nodes.models import NodePeer
from server.org.actions import do_ensure_org_unit
from server.relay.ingest import EVIDENCE_CONTEXT, ingest_events
from server.relay.models import SyncQuarantine
from server.relay.wire import encode, event_to_wire
from sync.chain import FIELDS, event_hash
from sync.envelope import open_envelope, seal
from sync.keys import NodeKeys
from tests.factories import make_item, make_user, open_intake
from tests.relay_fixtures import extra_postgres, linked
from tests.relay_nodes import (
    COUNTY,
    TOWNSHIP_A,
    TOWNSHIP_B,
    Node,
    command,
    county_http,
    intake,
    open_case,
)

__all__ = ["extra_postgres", "linked"]


async def wire_events(node: Node, case_id: str) -> list[dict[str, Any]]:
    async with node.app.state.db.session() as session:
        return [event_to_wire(node.app.state.cipher, e) for e in await events_of(session, case_id)]


async def ingest(county: Node, events: list[dict[str, Any]], peer: str = TOWNSHIP_A) -> Any:
    async with county.app.state.db.session() as session:
        return await ingest_events(
            session,
            county.app.state.cipher,
            peer=peer,
            peer_name="青山镇",
            direction="up",
            events=events,
        )


async def quarantine(county: Node) -> list[SyncQuarantine]:
    async with county.app.state.db.session() as session:
        query = select(SyncQuarantine).order_by(col(SyncQuarantine.id))
        return list((await session.exec(query)).all())


async def test_repeats_are_no_ops(linked: dict[str, Node]) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    case = await open_case(a)
    await command(a, case.id, "accept")
    events = await wire_events(a, case.id)
    first = await ingest(county, events)
    second = await ingest(county, events + events)
    assert (first.stored, first.repeated) == (2, 0)
    assert (second.stored, second.repeated, second.quarantined) == (0, 4, 0)


async def test_a_broken_chain_quarantines_its_case_only(linked: dict[str, Node]) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    broken, fine = await open_case(a), await open_case(a)
    for case in (broken, fine):
        for name in ("accept", "start_review"):
            await command(a, case.id, name)
    bad = await wire_events(a, broken.id)
    good = await wire_events(a, fine.id)
    # Event 2 of the first case is lost on the way: 3 no longer links to what the county holds.
    result = await ingest(county, [bad[0], good[0], bad[2], good[1], good[2]])
    assert (result.stored, result.quarantined) == (4, 1)
    rows = await quarantine(county)
    assert [(r.reason, r.event_id, r.peer) for r in rows] == [
        ("chain_break", bad[2]["id"], TOWNSHIP_A)
    ]
    assert "本节点已有第 1 个事件，收到第 3 个" in rows[0].message
    # The evidence is kept, encrypted: the event's id is in it only once decrypted.
    assert bad[2]["body"] == {} and bad[2]["id"] not in rows[0].evidence
    evidence = county.app.state.cipher.decrypt(rows[0].evidence, context=EVIDENCE_CONTEXT)
    assert bad[2]["id"] in evidence
    async with county.app.state.db.session() as session:
        there = await session.get(CaseRecord, fine.id)
        assert there is not None and there.state == "in_review"
    # The rest of the broken case in the same batch waits with it; its content was edited too.
    tampered = {**bad[1], "body": {"note": "改过"}}
    again = await ingest(county, [tampered, bad[2]])
    assert again.quarantined == 2
    assert [r.reason for r in await quarantine(county)][1:] == ["bad_hash", "after_quarantined"]


async def test_an_unknown_item_is_quarantined(linked: dict[str, Node]) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    local = await make_item(a.app, basic_code="992000109000", name="仅本镇事项")
    async with a.app.state.db.session() as session:
        assert a.admin is not None
        await do_set_claims(
            session=session,
            actor=a.admin,
            item_ids={a.item.id or 0, a.relayed_item.id or 0, local.id or 0},
        )

    case = await open_intake(a.app, a.clerk, intake(local))
    result = await ingest(county, await wire_events(a, case.id))
    assert result.quarantined == 1
    [row] = await quarantine(county)
    assert row.reason == "unknown_item" and local.implementation_code in row.message
    assert "请先同步事项目录" in row.message


async def test_a_child_cannot_write_as_another(linked: dict[str, Node]) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    case = await open_case(a)
    result = await ingest(county, await wire_events(a, case.id), peer=TOWNSHIP_B)
    assert result.quarantined == 1
    assert [r.reason for r in await quarantine(county)] == ["not_allowed"]


async def test_a_child_cannot_hold_back_another_townships_case(linked: dict[str, Node]) -> None:
    """An event of B's case sent by A, naming a file that never comes, is refused as not A's,
    not held: held, it would hold back every later event of B's case."""
    county, b = linked[COUNTY], linked[TOWNSHIP_B]
    case = await open_case(b)
    await command(b, case.id, "accept")
    submit, accept = await wire_events(b, case.id)
    assert (await ingest(county, [submit], peer=TOWNSHIP_B)).stored == 1
    forged = {
        **accept,
        "id": str(uuid.uuid4()),
        "kind": "attach",
        "node": TOWNSHIP_A,
        "body": {"material": "申请书", "sha256": "f" * 64, "name": "x.png"},
    }
    forged.pop("hlc", None)
    forged["hash"] = event_hash({key: forged[key] for key in FIELDS})
    result = await ingest(county, [forged], peer=TOWNSHIP_A)
    assert result.quarantined == 1
    assert [r.reason for r in await quarantine(county)] == ["not_allowed"]
    assert (await ingest(county, [accept], peer=TOWNSHIP_B)).stored == 1


# --- the endpoints ---------------------------------------------------------------------------


def pull(region: str, cursor: int = 0) -> bytes:
    return encode({"type": "pull", "from": region, "cursor": cursor, "sent_at": _now()})


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def sealed(node: Node, county: Node, payload: bytes, sender: NodeKeys | None = None) -> bytes:
    keys = sender or ensure_node_keys(node.settings.data_dir)
    return seal(
        payload, sender=keys, recipients=[ensure_node_keys(county.settings.data_dir).public()]
    )


async def post(county: Node, path: str, data: bytes, **headers: str) -> httpx.Response:
    async with county_http(county) as http:
        return await http.post(
            path, content=data, headers={"Content-Type": "application/octet-stream", **headers}
        )


async def test_a_pull_is_answered_sealed_to_the_sender(linked: dict[str, Node]) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    response = await post(county, "/api/sync/down", sealed(a, county, pull(TOWNSHIP_A)))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    opened = open_envelope(
        response.content,
        me=ensure_node_keys(a.settings.data_dir),
        sender_lookup=lambda _kid: ensure_node_keys(county.settings.data_dir).public(),
    )
    assert b'"type":"feed"' in opened.payload


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("tampered", 403, "bad_signature"),
        ("wrong_recipient", 403, "not_a_recipient"),
        ("unknown_sender", 403, "unknown_sender"),
        ("revoked_sender", 403, "unknown_sender"),
        ("another_townships_feed", 400, "malformed"),
        ("garbage", 400, "malformed"),
    ],
)
async def test_refusals_name_their_reason(
    linked: dict[str, Node], case: str, status: int, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    data = sealed(a, county, pull(TOWNSHIP_A))
    if case == "tampered":
        data = _flip(data, len(data) - 64 - 5)  # inside the ciphertext, before the signature
    elif case == "wrong_recipient":
        stranger = NodeKeys.generate().public()
        data = seal(
            pull(TOWNSHIP_A), sender=ensure_node_keys(a.settings.data_dir), recipients=[stranger]
        )
    elif case == "unknown_sender":
        data = sealed(a, county, pull(TOWNSHIP_A), sender=NodeKeys.generate())
    elif case == "revoked_sender":
        async with county.app.state.db.session() as session:
            peer = await session.get(NodePeer, TOWNSHIP_A)
            assert peer is not None
            peer.revoked_at = dt.datetime.now(dt.UTC)
            session.add(peer)
            await session.commit()
    elif case == "another_townships_feed":
        data = sealed(a, county, pull(TOWNSHIP_B))  # A's key asking for B's feed
    elif case == "garbage":
        data = b"not an envelope at all"
    response = await post(county, "/api/sync/down", data)
    assert (response.status_code, response.json()["reason"]) == (status, reason)
    assert response.json()["detail"]  # Chinese, for the operator
    assert f"reason={reason}" in caplog.text


BEYOND_INT32 = 2**40  # the cursor and skew columns are 32-bit integers on PostgreSQL
SIGNED_BUT_MALFORMED: list[tuple[str, dict[str, Any] | bytes]] = [
    ("/api/sync/up", {"type": "up", "events": [], "upto": BEYOND_INT32}),
    ("/api/sync/up", {"type": "up", "events": [], "upto": -1}),
    ("/api/sync/up", {"type": "up", "events": [], "upto": True}),
    ("/api/sync/down", {"type": "pull", "cursor": BEYOND_INT32}),
    ("/api/sync/up", b"[" * 50_000 + b"]" * 50_000),  # deeper than the JSON parser goes
]


async def test_a_childs_malformed_payload_is_refused_not_a_crash(linked: dict[str, Node]) -> None:
    """A payload signed by an enrolled child but out of range (or nested past the parser's
    limit) is 400 malformed, never a 500; a clock set to year 1 or 9999 is a skew the
    column holds."""
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    for path, payload in SIGNED_BUT_MALFORMED:
        data = payload if isinstance(payload, bytes) else encode({"from": TOWNSHIP_A, **payload})
        response = await post(county, path, sealed(a, county, data))
        assert (response.status_code, response.json()["reason"]) == (400, "malformed"), payload
    for sent_at in ("0001-01-01T00:00:00+00:00", "9999-12-31T00:00:00+00:00"):
        data = encode({"type": "pull", "from": TOWNSHIP_A, "cursor": 0, "sent_at": sent_at})
        assert (await post(county, "/api/sync/down", sealed(a, county, data))).status_code == 200


async def test_a_replayed_envelope_is_refused(linked: dict[str, Node]) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    data = sealed(a, county, pull(TOWNSHIP_A))
    assert (await post(county, "/api/sync/down", data)).status_code == 200
    again = await post(county, "/api/sync/down", data)
    assert (again.status_code, again.json()["reason"]) == (409, "replay")


async def test_a_login_cannot_call_the_sync_endpoints(linked: dict[str, Node]) -> None:
    """A village agent's token (or any user's) is no identity here: only an envelope is."""
    county = linked[COUNTY]
    async with county.app.state.db.session() as session:
        await do_ensure_org_unit(
            session=session, code=TOWNSHIP_A, name="青山镇", level="township", parent_code=COUNTY
        )
        village = "990102101201"
        await do_ensure_org_unit(
            session=session, code=village, name="青山村", level="village", parent_code=TOWNSHIP_A
        )
        await session.commit()
    agent = await make_user(
        county.app, role=Role.VILLAGE_AGENT, username="agent", org_unit_code=village
    )
    async with county.app.state.db.session() as session:
        _row, token = await do_create_token(session=session, user=agent, name="t", days=None)
    for path in ("/api/sync/up", "/api/sync/down", "/api/sync/chunks", "/api/sync/chunks/have"):
        response = await post(county, path, b'{"type":"pull"}', Authorization=f"Bearer {token}")
        assert (response.status_code, response.json()["reason"]) == (400, "malformed")


async def test_a_township_does_not_serve_sync(linked: dict[str, Node]) -> None:
    a, b = linked[TOWNSHIP_A], linked[TOWNSHIP_B]
    transport = httpx.ASGITransport(app=a.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://a.test") as http:
        response = await http.post("/api/sync/down", content=sealed(b, a, pull(TOWNSHIP_B)))
    assert (response.status_code, response.json()["reason"]) == (404, "not_a_parent")
