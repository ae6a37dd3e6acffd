"""A peer's rotation announcement (do_record_peer_key) and what the relay may then trust."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.audit.models import AuditLog
from server.db import utcnow
from server.nodes.enrolment import do_revoke_peer
from server.nodes.models import RETIRED_KEY_GRACE, PeerKey
from server.nodes.peers import PeerKeyRefused, do_record_peer_key
from server.nodes.queries import child_peers, peer_public_keys, sender_keys
from sync.envelope import open_envelope, seal
from sync.keys import NodeKeys
from tests.http.test_node_enrol_api import OTHER, TOWNSHIP, body, enrol, new_code


async def enrolled(county: Starlette, region: str = TOWNSHIP) -> NodeKeys:
    keys = NodeKeys.generate()
    code = await new_code(county, region=region)
    response = await enrol(county, body(code, keys.public(), region=region))
    assert response.status_code == 200, response.text
    return keys


async def test_a_new_key_retires_the_old_one_which_still_verifies(county_app: Starlette) -> None:
    old = await enrolled(county_app)
    new = NodeKeys.generate()
    async with county_app.state.db.session() as session:
        row = await do_record_peer_key(session, TOWNSHIP, new.public())
        assert row.retired_at is None and row.revoked_at is None
        assert await peer_public_keys(session, TOWNSHIP) == [new.public()]
        # An envelope the township signed with its old key before rotating still opens.
        found = await sender_keys(session, old.key_id)
        assert found is not None and found[0].region_code == TOWNSHIP
        retired = await session.get(PeerKey, old.key_id.hex())
        assert retired is not None and retired.retired_at is not None
        audit = await session.exec(select(AuditLog).where(AuditLog.action == "node.key_rotated"))
        assert audit.one().target == TOWNSHIP
    me = county_app.state.node_keys.current
    sealed = seal(b"old batch", sender=old, recipients=[me.public()])
    async with county_app.state.db.session() as session:
        found = await sender_keys(session, old.key_id)
    opened = open_envelope(sealed, me=me, sender_lookup=lambda _id: found[1] if found else None)
    assert opened.payload == b"old batch"


async def test_a_retired_key_stops_counting_after_the_grace_period(county_app: Starlette) -> None:
    old = await enrolled(county_app)
    async with county_app.state.db.session() as session:
        await do_record_peer_key(session, TOWNSHIP, NodeKeys.generate().public())
        row = await session.get(PeerKey, old.key_id.hex())
        assert row is not None
        row.retired_at = utcnow() - RETIRED_KEY_GRACE - dt.timedelta(minutes=1)
        session.add(row)
        await session.commit()
        assert await sender_keys(session, old.key_id) is None


async def test_announcements_twice_or_late_change_nothing(county_app: Starlette) -> None:
    first = await enrolled(county_app)
    second = NodeKeys.generate().public()
    async with county_app.state.db.session() as session:
        await do_record_peer_key(session, TOWNSHIP, second)
        await do_record_peer_key(session, TOWNSHIP, second)  # the same announcement again
        await do_record_peer_key(session, TOWNSHIP, first.public())  # an old one, late
        assert await peer_public_keys(session, TOWNSHIP) == [second]
        rows = (await session.exec(select(PeerKey))).all()
        assert len(rows) == 2
        audit = await session.exec(select(AuditLog).where(AuditLog.action == "node.key_rotated"))
        assert len(audit.all()) == 1


async def test_keys_of_unknown_or_revoked_peers_are_refused(county_app: Starlette) -> None:
    keys = await enrolled(county_app)
    other = await enrolled(county_app, region=OTHER)
    async with county_app.state.db.session() as session:
        with pytest.raises(PeerKeyRefused, match="不是已接入的节点"):
            await do_record_peer_key(session, "990102103000", NodeKeys.generate().public())
        with pytest.raises(PeerKeyRefused, match="已登记在 990102102000 名下"):
            await do_record_peer_key(session, TOWNSHIP, other.public())
        await do_revoke_peer(session=session, actor=None, region_code=TOWNSHIP)
        with pytest.raises(PeerKeyRefused, match="已被吊销"):
            await do_record_peer_key(session, TOWNSHIP, NodeKeys.generate().public())
        assert await sender_keys(session, keys.key_id) is None
        assert await peer_public_keys(session, TOWNSHIP) == []
        assert [peer.region_code for peer in await child_peers(session)] == [OTHER]
        everyone = await child_peers(session, include_revoked=True)
        assert [peer.region_code for peer in everyone] == [TOWNSHIP, OTHER]


async def test_a_revoked_key_is_never_recorded_again(county_app: Starlette) -> None:
    first = await enrolled(county_app)
    await enrolled(county_app)  # re-enrolment with new keys revokes the first ones
    async with county_app.state.db.session() as session:
        with pytest.raises(PeerKeyRefused, match="已被吊销"):
            await do_record_peer_key(session, TOWNSHIP, first.public())


async def test_a_tampered_key_row_is_not_trusted(county_app: Starlette) -> None:
    keys = await enrolled(county_app)
    async with county_app.state.db.session() as session:
        row = await session.get(PeerKey, keys.key_id.hex())
        assert row is not None
        row.signing = NodeKeys.generate().public().to_json()["signing"]
        session.add(row)
        await session.commit()
        assert await sender_keys(session, keys.key_id) is None
        with pytest.raises(ValueError, match="do not match their id"):
            await peer_public_keys(session, TOWNSHIP)
