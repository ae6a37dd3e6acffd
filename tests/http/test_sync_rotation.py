"""Key rotation on the wire (server/relay/directory.py), between real in-process nodes:
a township that rolls its keys announces them signed by the old ones, a county that rolls its
keys is learnt from the feed, sync goes on without re-enrolment and envelopes sealed before
the rotation still open; announcements not signed by the key in force are refused.
"""

from __future__ import annotations

import logging

import pytest

from server.nodes.keys import Keyring, ensure_node_keys, load_keyring, rotate_node_keys
from server.nodes.models import PeerKey
from server.nodes.queries import peer_public_keys
from server.relay.directory import announcement_payload
from server.relay.wire import encode
from sync.envelope import seal
from sync.keys import NodeKeys
from tests.http.test_sync_ingest import _now, post, pull, sealed
from tests.relay_fixtures import extra_postgres, linked
from tests.relay_nodes import COUNTY, TOWNSHIP_A, Node, all_events, command, open_case, sync

__all__ = ["extra_postgres", "linked"]


async def _pinned(node: Node, peer: str) -> list[bytes]:
    async with node.app.state.db.session() as session:
        return [keys.key_id for keys in await peer_public_keys(session, peer)]


async def test_a_township_rolls_its_keys_and_the_county_follows(
    linked: dict[str, Node], caplog: pytest.LogCaptureFixture
) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    old = ensure_node_keys(a.settings.data_dir)
    case = await open_case(a)
    await sync(a, county)
    # A push sealed with the old key before the rotation, still on its way (a slow link).
    late = sealed(a, county, pull(TOWNSHIP_A, cursor=0))
    new = rotate_node_keys(a.settings.data_dir)
    await command(a, case.id, "accept")
    caplog.set_level(logging.INFO, "yichuang.sync")
    report = await sync(a, county)  # refused once (unknown key), announces, goes on
    assert report.sent_events == 1
    assert await _pinned(county, TOWNSHIP_A) == [new.key_id]
    assert "reason=unknown_sender" in caplog.text and "announced" in caplog.text
    async with county.app.state.db.session() as session:
        retired = await session.get(PeerKey, old.key_id.hex())
        assert retired is not None and retired.retired_at is not None
    assert await all_events(county, TOWNSHIP_A) == await all_events(a)
    # The envelope signed by the old key before the rotation still opens.
    assert (await post(county, "/api/sync/down", late)).status_code == 200
    # The next round needs no announcement: the new key is the one in force.
    caplog.clear()
    await command(a, case.id, "start_review")
    assert (await sync(a, county)).sent_events == 1
    assert "unknown_sender" not in caplog.text


async def test_a_county_rolls_its_keys_and_townships_learn_them_from_the_feed(
    linked: dict[str, Node],
) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    old = ensure_node_keys(county.settings.data_dir)
    late = sealed(a, county, pull(TOWNSHIP_A))  # sealed to the county's old key
    new = rotate_node_keys(county.settings.data_dir)
    case = await open_case(a)
    first = await sync(a, county)  # sealed to the old key; the answers carry the directory
    assert first.sent_events == 1
    assert await _pinned(a, COUNTY) == [new.key_id]
    async with a.app.state.db.session() as session:
        retired = await session.get(PeerKey, old.key_id.hex())
        assert retired is not None and retired.retired_at is not None
    await command(a, case.id, "accept")
    assert (await sync(a, county)).sent_events == 1  # now sealed to the new key
    assert await all_events(county, TOWNSHIP_A) == await all_events(a)
    assert (await post(county, "/api/sync/down", late)).status_code == 200
    assert await _pinned(county, TOWNSHIP_A) == [ensure_node_keys(a.settings.data_dir).key_id]


@pytest.mark.parametrize("signer", ["stranger", "retired", "bad_proof"])
async def test_announcements_not_signed_by_the_pinned_key_are_refused(
    linked: dict[str, Node], signer: str, caplog: pytest.LogCaptureFixture
) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    pinned = ensure_node_keys(a.settings.data_dir)
    intruder = NodeKeys.generate()
    keyring = load_keyring(a.settings.data_dir)
    if signer == "retired":
        # The township rolled twice; its first key (retired by the first announcement) now
        # tries to name a successor of its own choosing.
        second = rotate_node_keys(a.settings.data_dir)
        await sync(a, county)
        assert await _pinned(county, TOWNSHIP_A) == [second.key_id]
        keyring = load_keyring(a.settings.data_dir)
    payload = announcement_payload(keyring, TOWNSHIP_A, pinned, _now())
    # The intruder's keys, announced: proof by the intruder, envelope by `sender`.
    rogue = Keyring(current=intruder, all=(intruder, pinned), stamp=0)
    payload["announce"] = announcement_payload(rogue, TOWNSHIP_A, pinned, _now())["announce"]
    sender = pinned
    if signer == "stranger":
        sender = NodeKeys.generate()
    elif signer == "bad_proof":
        payload["announce"]["proof"] = payload["announce"]["proof"][::-1]
    data = seal(
        encode(payload),
        sender=sender,
        recipients=[ensure_node_keys(county.settings.data_dir).public()],
    )
    response = await post(county, "/api/sync/up", data)
    reason = "unknown_sender" if signer == "stranger" else "announce_refused"
    assert (response.status_code, response.json()["reason"]) == (403, reason)
    assert f"reason={reason}" in caplog.text
    assert intruder.key_id not in await _pinned(county, TOWNSHIP_A)
