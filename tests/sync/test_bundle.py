"""Sync by file between a township and its county (a USB stick): real nodes in one process, each
on its own database (SQLite and PostgreSQL), real envelopes and signatures.

The township exports its outbox, the county imports it (exactly those events, chains intact),
a second import changes nothing, the county's answer trims the township's outbox and brings a
relayed case decided at the county back; scans travel with their cases both ways; a tampered
bundle, one for another node, one from a revoked sender and one of the wrong kind are refused
with a Chinese message and a logged reason. One test runs the three steps as an operator types
them (`server.cli.main`), one through the sync page.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from server.attachments.store import read_attachment
from server.cases.events import verify_cases
from server.cases.models import CaseEvent, CaseRecord
from server.cli import main
from server.crypto.fields import FieldCipher
from server.db import Database
from server.nodes.keys import ensure_node_keys, rotate_node_keys
from server.nodes.models import NodePeer
from server.nodes.queries import peer_public_keys
from server.relay.bundle import export_answer, export_up, import_answer, import_up
from server.relay.bundle_frames import BundleFailed
from server.relay.feed import pending_count
from server.relay.models import (
    SyncCursor,
    SyncEnvelopeSeen,
    SyncLog,
    SyncQuarantine,
    SyncReference,
)
from server.relay.state import cursor_of
from server.settings import Settings
from server.web import MAX_FORM_BYTES
from sync.bundle import peek
from tests.conftest import csrf_of, signed_in
from tests.http.test_sync_attachments import attach, open_holds, scan
from tests.relay_fixtures import extra_postgres, linked
from tests.relay_nodes import (
    COUNTY,
    TOWNSHIP_A,
    TOWNSHIP_B,
    Node,
    all_events,
    chain_of,
    command,
    open_case,
)

__all__ = ["extra_postgres", "linked"]
pytestmark = pytest.mark.sync


def parts(node: Node) -> tuple[Database, FieldCipher, Settings]:
    return node.app.state.db, node.app.state.cipher, node.settings


async def snapshot(node: Node) -> tuple[Any, ...]:
    """Everything an import could change on a node."""
    async with node.app.state.db.session() as session:
        events = sorted((e.id, e.hash) for e in (await session.exec(select(CaseEvent))).all())
        cases = sorted(
            (c.id, c.state, c.owner, c.last_seq)
            for c in (await session.exec(select(CaseRecord))).all()
        )
        cursors = sorted(
            (c.peer, c.direction, c.position)
            for c in (await session.exec(select(SyncCursor))).all()
        )
        counts = [
            (await session.exec(select(func.count()).select_from(table))).one()
            for table in (SyncLog, SyncEnvelopeSeen, SyncQuarantine)
        ]
    return events, cases, cursors, counts


async def relayed_case(node: Node) -> str:
    case = await open_case(node, relayed=True)
    for name in ("accept", "start_review", "mark_ready", "relay"):
        await command(node, case.id, name)
    return case.id


async def outbox(node: Node) -> int:
    async with node.app.state.db.session() as session:
        after = await cursor_of(session, COUNTY, "up")
        return await pending_count(session, parent=COUNTY, after=after)


async def verified(node: Node) -> None:
    async with node.app.state.db.session() as session:
        _checked, broken = await verify_cases(session, node.app.state.cipher)
    assert broken == []


async def test_a_bundle_goes_up_once_and_its_answer_trims_and_brings_the_feed(
    linked: dict[str, Node],
) -> None:
    county, a, b = linked[COUNTY], linked[TOWNSHIP_A], linked[TOWNSHIP_B]
    plain = await open_case(a)
    await command(a, plain.id, "accept")
    relayed = await relayed_case(a)
    lines: list[str] = []
    data, exported = await export_up(*parts(a), progress=lines.append)
    assert (exported.events, exported.peer) == (7, COUNTY)
    assert lines[-1] == "已写入 7 个事件…"
    assert peek(data).header.types[-1] == "pull"
    assert await outbox(a) == 7  # nothing moves until the answer comes back

    imported = await import_up(*parts(county), data, source="stick/a.ycb")
    assert (imported.peer, imported.stored, imported.repeated, imported.quarantined) == (
        TOWNSHIP_A,
        7,
        0,
        0,
    )
    assert await all_events(county, TOWNSHIP_A) == await all_events(a)
    for case_id in (plain.id, relayed):
        assert await chain_of(county, case_id) == await chain_of(a, case_id)
    await verified(county)

    before = await snapshot(county)
    again = await import_up(*parts(county), data, source="stick/a.ycb")
    assert (again.envelopes, again.replayed, again.stored) == (0, len(peek(data).frames), 0)
    assert await snapshot(county) == before

    await command(county, relayed, "county_decide", {"outcome": "approve"})
    async with a.app.state.db.session() as session:
        top = (await session.exec(select(func.max(SyncLog.seq)))).one()
    answer, written = await export_answer(*parts(county), TOWNSHIP_A, imported=imported)
    assert (written.acked, written.events) == (top, 1)  # the highest sequence the county holds
    back = await import_answer(*parts(a), answer, source="stick/answer.ycb")
    assert (back.acked, back.stored, back.events) == (top, 1, 1)
    async with a.app.state.db.session() as session:
        home = await session.get(CaseRecord, relayed)
        assert home is not None and (home.state, home.owner) == ("decided", "township")
    assert await outbox(a) == 0  # trimmed: only the decision, which came from the county
    async with a.app.state.db.session() as session:
        # The county's catalogue came with the feed, as it does with a pull.
        catalogue = await session.get(SyncReference, (COUNTY, "catalogue"))
        assert catalogue is not None and catalogue.digest
    assert await chain_of(a, relayed) == await chain_of(county, relayed)
    await verified(a)

    before = await snapshot(a)
    twice = await import_answer(*parts(a), answer, source="stick/answer.ycb")
    assert (twice.envelopes, twice.replayed) == (0, 2)
    assert await snapshot(a) == before

    # The next trip carries only the delivery, and reports the down cursor the county records.
    await command(a, relayed, "deliver", {"method": "window"})
    data, second = await export_up(*parts(a))
    assert second.events == 1
    await import_up(*parts(county), data)
    assert await chain_of(county, relayed) == await chain_of(a, relayed)
    async with county.app.state.db.session() as session:
        down_there = await cursor_of(session, TOWNSHIP_A, "down")
    async with a.app.state.db.session() as session:
        assert down_there == await cursor_of(session, COUNTY, "down") > 0
    answer, empty = await export_answer(*parts(county), TOWNSHIP_A)
    assert empty.events == 0  # the decision is not sent again
    await import_answer(*parts(a), answer)
    assert await outbox(a) == 0
    assert await all_events(b) == set()


async def refused(work: Any, reason: str, caplog: pytest.LogCaptureFixture) -> str:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="yichuang.sync"):
        with pytest.raises(BundleFailed) as failure:
            await work
    assert failure.value.reason == reason
    assert f"bundle refused reason={reason}" in caplog.text
    return failure.value.message


async def test_tampered_misaddressed_and_revoked_bundles_are_refused(
    linked: dict[str, Node], caplog: pytest.LogCaptureFixture
) -> None:
    county, a, b = linked[COUNTY], linked[TOWNSHIP_A], linked[TOWNSHIP_B]
    await open_case(a)
    data, _report = await export_up(*parts(a))
    empty = await snapshot(county)

    tampered = bytearray(data)
    tampered[-100] ^= 0x01  # inside the last envelope: every length still adds up
    message = await refused(import_up(*parts(county), bytes(tampered)), "bad_signature", caplog)
    assert "改动" in message
    cut = await refused(import_up(*parts(county), data[:-100]), "malformed", caplog)
    assert "拷贝完整" in cut
    wrong_side = await refused(import_answer(*parts(b), data), "wrong_kind", caplog)
    assert "县级节点" in wrong_side
    assert await snapshot(county) == empty

    answer, _written = await export_answer(*parts(county), TOWNSHIP_A)
    elsewhere = await refused(import_answer(*parts(b), answer), "not_for_us", caplog)
    assert TOWNSHIP_A in elsewhere and "本节点" in elsewhere
    kind = await refused(import_up(*parts(county), answer), "wrong_kind", caplog)
    assert "乡镇节点导入" in kind

    async with county.app.state.db.session() as session:
        peer = await session.get(NodePeer, TOWNSHIP_A)
        assert peer is not None
        peer.revoked_at = dt.datetime.now(dt.UTC)
        session.add(peer)
        await session.commit()
    revoked = await refused(import_up(*parts(county), data), "unknown_sender", caplog)
    assert "吊销" in revoked
    assert await snapshot(county) == empty


async def test_the_operator_carries_a_stick(
    linked: dict[str, Node],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    case = await open_case(a)
    stick = tmp_path / "stick"
    stick.mkdir()

    async def yichuang(node: Node, *args: str) -> str:
        monkeypatch.setenv("DATABASE_URL", node.settings.effective_database_url)
        code = await asyncio.to_thread(main, ["--data", str(node.settings.data_dir), *args])
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    out = await yichuang(a, "bundle", "export", str(stick / "up.ycb"))
    assert "已写入 1 个事件…" in out and "已导出：1 个事件" in out
    out = await yichuang(
        county, "bundle", "import", str(stick / "up.ycb"), "--answer", str(stick / "answer.ycb")
    )
    assert "新增 1 个事件" in out and "已写入给青山镇便民服务中心的答复包" in out
    assert await chain_of(county, case.id) == await chain_of(a, case.id)
    out = await yichuang(county, "bundle", "import", str(stick / "up.ycb"))
    assert "此前已经导入过" in out
    out = await yichuang(a, "bundle", "import", str(stick / "answer.ycb"))
    assert "已从待上传中清除" in out
    assert await outbox(a) == 0
    assert not list(stick.glob("*.part"))

    monkeypatch.setenv("DATABASE_URL", a.settings.effective_database_url)
    code = await asyncio.to_thread(
        main, ["--data", str(a.settings.data_dir), "bundle", "import", str(stick / "up.ycb")]
    )
    assert code == 2
    assert "应在县级节点导入" in capsys.readouterr().err


async def test_the_sync_page_downloads_and_takes_bundles(linked: dict[str, Node]) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    case_id = await relayed_case(a)
    assert a.admin is not None and county.admin is not None
    async with signed_in(a.app, a.admin.username) as township:
        page = await township.get("/admin/sync")
        assert "下载上传包" in page.text
        up = await township.get("/admin/sync/bundle")
        assert up.status_code == 200
        assert up.headers["content-disposition"].startswith('attachment; filename="yichuang-')
    async with signed_in(county.app, county.admin.username) as office:
        token = await csrf_of(office, "/admin/sync")
        files = {"file": ("qingshan.ycb", up.content, "application/octet-stream")}
        answer = await office.post("/admin/sync/bundle", data={"csrf_token": token}, files=files)
        assert answer.status_code == 200 and answer.content.startswith(b"YCBD")
        assert "已导入青山镇便民服务中心的数据包：新增 5 个事件" in (await office.get("/")).text
        token = await csrf_of(office, "/admin/sync")
        wrong = await office.post(
            "/admin/sync/bundle",
            data={"csrf_token": token},
            files={"file": ("answer.ycb", answer.content, "application/octet-stream")},
        )
        assert wrong.status_code == 422 and "应在对应的乡镇节点导入" in wrong.text
        # Past what a page may post (the form limit): the command line, not "a smaller file".
        token = await csrf_of(office, "/admin/sync")
        big = {"file": ("big.ycb", b"YCBD" + b"\0" * MAX_FORM_BYTES, "application/octet-stream")}
        too_big = await office.post("/admin/sync/bundle", data={"csrf_token": token}, files=big)
        assert too_big.status_code == 413 and "yichuang bundle import" in too_big.text
    await command(county, case_id, "county_decide", {"outcome": "approve"})
    async with signed_in(county.app, county.admin.username) as office:
        fresh = await office.get(f"/admin/sync/bundle?for={TOWNSHIP_A}")
        assert fresh.status_code == 200
    async with signed_in(a.app, a.admin.username) as township:
        token = await csrf_of(township, "/admin/sync")
        files = {"file": ("answer.ycb", fresh.content, "application/octet-stream")}
        done = await township.post("/admin/sync/bundle", data={"csrf_token": token}, files=files)
        assert done.status_code == 303 and done.headers["location"] == "/admin/sync"
        shown = await township.get("/admin/sync")
        assert "已导入答复包" in shown.text and "新增 1 个" in shown.text
    assert await outbox(a) == 0
    assert await chain_of(a, case_id) == await chain_of(county, case_id)


async def test_scans_travel_in_bundles_both_ways(linked: dict[str, Node]) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    case = await open_case(a, relayed=True)
    await command(a, case.id, "accept")
    photo = scan()
    sha256 = await attach(a, case.id, photo)
    for name in ("start_review", "mark_ready", "relay"):
        await command(a, case.id, name)
    data, exported = await export_up(*parts(a))
    assert (exported.events, exported.chunks) == (6, 4)
    got = await import_up(*parts(county), data)
    # The attach event and those after it waited for the scan, and its last chunk let them in.
    assert (got.chunks, got.stored, got.quarantined) == (4, 6, 0)
    assert await open_holds(county) == []
    assert await chain_of(county, case.id) == await chain_of(a, case.id)
    async with county.app.state.db.session() as session:
        assert await read_attachment(session, county.app.state.cipher, sha256) == photo

    reply = scan()
    county_scan = await attach(county, case.id, reply)
    answer, written = await export_answer(*parts(county), TOWNSHIP_A, imported=got)
    assert (written.events, written.chunks) == (1, 4)
    back = await import_answer(*parts(a), answer)
    assert (back.chunks, back.stored, back.quarantined) == (4, 1, 0)
    assert await open_holds(a) == []
    async with a.app.state.db.session() as session:
        assert await read_attachment(session, a.app.state.cipher, county_scan) == reply
    assert await chain_of(a, case.id) == await chain_of(county, case.id)


async def test_a_township_that_rolled_its_keys_is_known_by_its_bundle(
    linked: dict[str, Node],
) -> None:
    county, a = linked[COUNTY], linked[TOWNSHIP_A]
    old = ensure_node_keys(a.settings.data_dir).key_id
    new = rotate_node_keys(a.settings.data_dir).key_id
    first = await open_case(a)
    data, _report = await export_up(*parts(a))
    assert peek(data).sender_key == new and peek(data).header.types[0] == "announce"
    got = await import_up(*parts(county), data)
    assert (got.peer, got.stored) == (TOWNSHIP_A, 1)
    async with county.app.state.db.session() as session:
        keys = await peer_public_keys(session, TOWNSHIP_A)
        assert keys[0].key_id == new and old not in {k.key_id for k in keys}
    answer, _written = await export_answer(*parts(county), TOWNSHIP_A, imported=got)
    back = await import_answer(*parts(a), answer)  # sealed to the new key
    assert back.acked is not None and await outbox(a) == 0
    # Later bundles still carry the announcement; the county, knowing the key, skips it.
    second = await open_case(a)
    data, _report = await export_up(*parts(a))
    assert (await import_up(*parts(county), data)).stored == 1
    for case in (first, second):
        assert await chain_of(county, case.id) == await chain_of(a, case.id)
