"""Sync by file (a USB stick) when a township has no link at all: export, import, answer.

The frames are the very envelopes of the HTTP streams, handled by the same functions:

- A township's **up bundle** holds its pending up batches (`pending_up` after its up cursor,
  sealed as `_push` seals them, without `sent_at`: a stick takes days, which is no clock
  reading) and one pull reporting its down cursor and what it holds of the reference data
  (`reference_request`).
- The county imports it as `/api/sync/up` and `/api/sync/down` would: every envelope is checked
  and recorded by `open_from_child` (a repeated import is refused envelope by envelope as a
  replay, so it changes nothing), the events are applied by `ingest_events` (dedupe, quarantine)
  through `apply_up`, the pull's cursor is recorded by `note_pull`.
- The county's **answer bundle** for a child holds an ack (`upto` = its up cursor for that
  child, the highest sequence it holds) and the child's feed from the down cursor the child last
  reported (`feed_for`, sealed as `serve_down` seals it; the first batch also carries the key
  directory and reference data, `feed_extras`, for the pull just imported or, without one,
  everything). It can be written right after an import (`--answer`) or at any time
  (`export --for`). It is signed by the county key generation the child sealed to
  (`answer_signer`), as the HTTP answers are.
- The township imports the answer: the ack moves its up cursor (the trim), each feed batch goes
  through `apply_feed_extras` and `store_feed` as a pulled one does. Envelope ids are recorded,
  so importing an answer twice changes nothing either.

Every refusal has a stable reason and a Chinese message and is logged (`bundle refused`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from server.attachments.transfer import ChunkProblem
from server.crypto.fields import FieldCipher
from server.db import Database, utcnow
from server.nodes.keys import node_keys
from server.nodes.models import NodePeer
from server.nodes.queries import parent_peer, peer_public_keys
from server.relay.bundle_frames import (
    ANSWER,
    UP,
    BundleFailed,
    BundleReport,
    Progress,
    check_frames,
    count_released,
    fits,
    log,
    peek_kind,
    quiet,
    refuse,
    refused_bundle,
)
from server.relay.bundle_keys import announce_frames, known_sender, take_announced_key
from server.relay.bundle_scans import scan_chunks, store_scan_chunk
from server.relay.chunks import apply_chunk
from server.relay.client import SyncFailed, store_feed, up_payload
from server.relay.directory import answer_signer, parent_verify_keys
from server.relay.feed import feed_for, pending_up
from server.relay.models import SyncEnvelopeSeen, SyncLog
from server.relay.reference import apply_feed_extras, feed_extras, reference_request
from server.relay.service import (
    SyncRefused,
    apply_up,
    feed_payload,
    note_pull,
    open_from_child,
    seal_to_peer,
)
from server.relay.state import cursor_of, do_move_cursor, status_of
from server.relay.wire import WireError, decode, encode
from server.settings import Settings
from sync.bundle import (
    MAX_FRAMES,
    BundleRefused,
    open_bundle,
    write_bundle,
)
from sync.envelope import EnvelopeRefused, directory_lookup, open_envelope, seal
from sync.keys import PublicKeys

# --- township: export the up bundle, import the answer ------------------------------------


async def export_up(
    db: Database, cipher: FieldCipher, settings: Settings, *, progress: Progress = quiet
) -> tuple[bytes, BundleReport]:
    """The township's pending events for its parent, sealed, in one bundle (nothing moves)."""
    if settings.role != "township":
        raise BundleFailed("wrong_role", "县级节点用 --for 指定乡镇，导出给该乡镇的答复包。")
    keyring = node_keys(settings)
    me = settings.region_code
    async with db.session() as session:
        parent = await parent_peer(session)
        keys = await peer_public_keys(session, parent.region_code) if parent else []
        if parent is None:
            raise BundleFailed("not_enrolled", "本节点还没有加入上级节点：请先运行 yichuang join")
        if not keys:
            raise BundleFailed("no_keys", "没有上级节点的有效公钥，请重新加入（yichuang join）")
        after = await cursor_of(session, parent.region_code, "up")
        down = await cursor_of(session, parent.region_code, "down")
        reference = await reference_request(session, parent.region_code)
        report = BundleReport(peer=parent.region_code, peer_name=parent.name)
        frames = announce_frames(keyring, me, keys)  # after `keys rotate`: the new key's news
        events: list[dict[str, Any]] = []
        while len(frames) < MAX_FRAMES - 1:
            batch = await pending_up(session, cipher, parent=parent.region_code, after=after)
            if not batch.events:
                break
            payload = up_payload(me, batch)
            del payload["sent_at"]  # carried for days: not a reading of our clock
            frames.append(
                ("up", seal(encode(payload), sender=keyring.current, recipients=keys[:1]))
            )
            after = batch.upto
            events += batch.events
            report.events += len(batch.events)
            progress(f"已写入 {report.events} 个事件…")
        # After the events, as the HTTP round sends them: the county holds, then releases.
        for chunk in await scan_chunks(session, cipher, events, say=progress):
            payload = {**chunk, "from": me}
            sealed = seal(encode(payload), sender=keyring.current, recipients=keys[:1])
            frames.append(("chunk", sealed))
            report.chunks += 1
        if report.chunks:
            progress(f"已写入扫描件 {report.chunks} 块")
    pull = {"type": "pull", "from": me, "cursor": down, "reference": reference}
    frames.append(("pull", seal(encode(pull), sender=keyring.current, recipients=keys[:1])))
    data = write_bundle(
        kind=UP, sender=me, recipient=parent.region_code, frames=frames, keys=keyring.current
    )
    fits(data)
    report.envelopes, report.size = len(frames), len(data)
    return data, report


async def import_answer(
    db: Database,
    cipher: FieldCipher,
    settings: Settings,
    data: bytes,
    *,
    source: str = "-",
    progress: Progress = quiet,
) -> BundleReport:
    """The county's answer on the township: the ack trims the outbox, the feed is applied."""
    if settings.role != "township":
        raise refuse("wrong_role", "县级节点只导入乡镇的上传包。", source)
    bundle = peek_kind(
        data,
        ANSWER,
        settings.region_code,
        source,
        "这是乡镇导出的上传包，应在县级节点导入，不能在乡镇导入。",
    )
    async with db.session() as session:
        parent = await parent_peer(session)
        keys = await parent_verify_keys(session, parent.region_code) if parent else []
    if parent is None:
        raise refuse("not_enrolled", "本节点还没有加入上级节点：请先运行 yichuang join", source)
    lookup = directory_lookup(keys)
    try:
        open_bundle(data, recipient=settings.region_code, sender_lookup=lookup)
    except BundleRefused as problem:
        raise refused_bundle(problem, source) from None
    if bundle.header.sender != parent.region_code:
        raise refuse("unknown_sender", "数据包不是本节点的上级发来的。", source)
    check_frames(bundle, ANSWER, source)
    keyring = node_keys(settings)
    report = BundleReport(peer=parent.region_code, peer_name=parent.name)
    for index, (frame_type, envelope) in enumerate(bundle.frames, start=1):
        try:
            opened = open_envelope(envelope, me=list(keyring.all), sender_lookup=lookup)
            payload = decode(opened.payload, frame_type)
        except EnvelopeRefused as problem:
            raise refuse(problem.reason, problem.message, source, f"frame {index}") from None
        except WireError as problem:
            raise refuse("malformed", "数据包内容格式不正确。", source, str(problem)) from None
        async with db.session() as session:
            if await session.get(SyncEnvelopeSeen, opened.envelope_id) is not None:
                report.replayed += 1
                continue
        if frame_type == "ack":
            report.acked = await _trim(db, parent.region_code, payload, source)
        elif frame_type == "chunk":
            try:
                released = await store_scan_chunk(db, cipher, payload)
            except ChunkProblem as problem:
                message = f"扫描件无法保存：{problem.detail}"
                raise refuse(problem.reason, message, source, f"frame {index}") from None
            report.chunks += 1
            count_released(report, released)
        else:
            try:
                await apply_feed_extras(db, parent.region_code, payload)
                events, result = await store_feed(
                    db, cipher, parent, payload, floor=0, me=settings.region_code
                )
            except SyncFailed as failed:
                raise refuse("malformed", str(failed), source, f"frame {index}") from None
            report.events += len(events)
            report.stored += result.stored
            report.repeated += result.repeated
            report.quarantined += result.quarantined
            if events:
                progress(f"已导入 {report.events} 个下发事件，新增 {report.stored} 个…")
        async with db.session() as session:
            session.add(SyncEnvelopeSeen(envelope_id=opened.envelope_id, peer=parent.region_code))
            await session.commit()
        report.envelopes += 1
    return report


async def _trim(db: Database, parent: str, ack: dict[str, Any], source: str) -> int:
    """Move the up cursor to what the parent says it holds: the outbox is trimmed to there."""
    upto = ack.get("upto")
    if not isinstance(upto, int) or isinstance(upto, bool) or upto < 0:
        raise refuse("malformed", "上级节点的确认格式不正确。", source, repr(upto))
    async with db.session() as session:
        top = (await session.exec(select(func.max(SyncLog.seq)))).one() or 0
        if upto > top:
            # Never skip events that were never sent (a restored backup, a wrong county).
            message = f"上级节点确认到第 {upto} 号，本节点只有 {top} 号：请联系县级管理员核对。"
            raise refuse("ack_ahead", message, source)
        await do_move_cursor(session, parent, "up", upto)
        await session.commit()
    return upto


# --- county: import an up bundle, write an answer -------------------------------------------


async def import_up(
    db: Database,
    cipher: FieldCipher,
    settings: Settings,
    data: bytes,
    *,
    source: str = "-",
    progress: Progress = quiet,
) -> BundleReport:
    """A township's up bundle on the county, applied frame by frame as the endpoints would."""
    if settings.role != "county":
        raise refuse("wrong_role", "乡镇节点只导入县级的答复包；上传包应在县级节点导入。", source)
    bundle = peek_kind(
        data,
        UP,
        settings.region_code,
        source,
        "这是县级节点给乡镇的答复包，应在对应的乡镇节点导入，不能在县级导入。",
    )
    keyring = node_keys(settings)
    async with db.session() as session:
        found = await known_sender(session, bundle.sender_key)
    if found is None:
        check_frames(bundle, UP, source)
        found = await take_announced_key(db, cipher, keyring, bundle)
    if found is None:
        problem = BundleRefused("unknown_sender", bundle.sender_key.hex())
        raise refused_bundle(problem, source)
    peer, keys = found
    try:
        open_bundle(data, recipient=settings.region_code, sender_lookup=_only(keys))
    except BundleRefused as problem:
        raise refused_bundle(problem, source) from None
    if bundle.header.sender != peer.region_code:
        raise refuse("malformed", "数据包标明的发送方与签名的节点不符。", source)
    check_frames(bundle, UP, source)
    report = BundleReport(peer=peer.region_code, peer_name=peer.name)
    for index, (frame_type, envelope) in enumerate(bundle.frames, start=1):
        if frame_type == "announce":
            continue  # taken above when the bundle's key was new; not needed otherwise
        async with db.session() as session:
            try:
                if frame_type == "up":
                    _child, ack = await apply_up(session, cipher, keyring, envelope)
                    report.stored += int(ack["stored"])
                    report.repeated += int(ack["repeated"])
                    report.quarantined += int(ack["quarantined"])
                elif frame_type == "chunk":
                    _child, ack = await apply_chunk(session, cipher, keyring, envelope)
                    report.chunks += 1
                    count_released(report, int(ack["released"]))
                else:
                    received = await open_from_child(session, keyring, envelope, "pull")
                    await note_pull(session, received)
                    await session.commit()
                    report.pull = received.payload
            except SyncRefused as refused:
                if refused.reason == "replay":
                    report.replayed += 1
                    continue
                message = f"第 {index} 个数据包被拒绝：{refused.detail}"
                raise refuse(refused.reason, message, source, str(refused)) from None
        report.envelopes += 1
        if frame_type == "up":
            progress(f"已导入 {report.stored + report.repeated + report.quarantined} 个事件…")
    report.events = report.stored + report.repeated + report.quarantined
    log.info(
        "bundle from %s: %d frames applied, %d replayed, %d stored, %d quarantined",
        *(peer.region_code, report.envelopes, report.replayed, report.stored, report.quarantined),
    )
    return report


def _only(keys: PublicKeys) -> Callable[[bytes], PublicKeys | None]:
    return lambda asked: keys if asked == keys.key_id else None


async def export_answer(
    db: Database,
    cipher: FieldCipher,
    settings: Settings,
    child: str,
    *,
    imported: BundleReport | None = None,
    progress: Progress = quiet,
) -> tuple[bytes, BundleReport]:
    """The county's answer for `child`: the ack of what it holds and the child's feed."""
    if settings.role != "county":
        raise BundleFailed("wrong_role", "只有县级节点给乡镇导出答复包。")
    keyring = node_keys(settings)
    async with db.session() as session:
        peer = await session.get(NodePeer, child)
        if peer is None or peer.relation != "child" or peer.revoked_at is not None:
            raise BundleFailed("unknown_child", f"{child} 不是本县已登记的乡镇节点（或已被吊销）")
        done = imported or BundleReport()
        upto = await cursor_of(session, child, "up")
        ack = {
            "type": "ack",
            "upto": upto,
            "stored": done.stored,
            "repeated": done.repeated,
            "quarantined": done.quarantined,
            "server_time": utcnow().isoformat(timespec="milliseconds"),
        }
        report = BundleReport(peer=child, peer_name=peer.name, acked=upto)
        try:
            frames = [("ack", await seal_to_peer(session, keyring, child, ack))]
            after = await cursor_of(session, child, "down")
            # Keys, catalogue and calendar ride with the first batch, as in a pulled answer.
            extra = await feed_extras(session, keyring, done.pull or {})
            events: list[dict[str, Any]] = []
            while len(frames) < MAX_FRAMES:
                batch = await feed_for(session, cipher, child=child, after=after)
                if not batch.events and len(frames) > 1:
                    break
                payload = feed_payload(batch)
                if len(frames) == 1:
                    payload |= extra.payload
                    payload["more"] = batch.more or extra.more
                frames.append(("feed", await seal_to_peer(session, keyring, child, payload)))
                after = batch.upto
                events += batch.events
                report.events += len(batch.events)
                if batch.events:
                    progress(f"已写入 {report.events} 个下发事件…")
                if not batch.more:
                    break
            for chunk in await scan_chunks(session, cipher, events, say=progress):
                frames.append(("chunk", await seal_to_peer(session, keyring, child, chunk)))
                report.chunks += 1
        except SyncRefused as refused:
            raise BundleFailed(refused.reason, refused.detail, str(refused)) from None
        (await status_of(session, child)).pulled += report.events
        await session.commit()
    data = write_bundle(
        kind=ANSWER,
        sender=settings.region_code,
        recipient=child,
        frames=frames,
        keys=answer_signer(keyring),  # the generation the envelopes are signed by
    )
    fits(data)
    report.envelopes, report.size = len(frames), len(data)
    return data, report
