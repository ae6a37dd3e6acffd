"""The child's sync round and loop: push everything pending, then pull until the feed is dry.

A round resumes where the last one stopped: the up cursor moves only when the parent's sealed
ack says it stored the batch (that is the trim), the down cursor only after the pulled events
are committed here. Every envelope is sealed afresh, so a retry is never a replay. Every
failure is recorded in `sync_status` and retried after a full-jitter backoff (sync/backoff.py).
The parent's clock is read from each answer's `server_time`; the skew is stored for the banner.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from server.crypto.fields import FieldCipher
from server.db import Database, utcnow
from server.nodes.keys import Keyring, node_keys
from server.nodes.models import NodePeer
from server.nodes.queries import parent_peer, peer_public_keys
from server.relay.chunks import fetch_attachments, send_attachments
from server.relay.directory import announce_keys, parent_verify_keys, refusal_reason
from server.relay.feed import Batch, pending_up
from server.relay.ingest import IngestResult, ingest_events
from server.relay.reference import apply_feed_extras, reference_request
from server.relay.state import cursor_of, do_move_cursor, skew_seconds, status_of
from server.relay.wire import WireError, decode, encode
from server.settings import Settings
from sync.backoff import Backoff
from sync.envelope import EnvelopeRefused, directory_lookup, open_envelope, seal
from sync.keys import PublicKeys

log = logging.getLogger("yichuang.sync")
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
INTERVAL_S = 15.0
MAX_BATCHES = 1000  # one round's ceiling per direction, so a round always ends
ENVELOPE = "application/octet-stream"


class SyncFailed(Exception):
    """A round that did not complete; the message is for the operator (Chinese)."""


class NotEnrolled(SyncFailed):
    pass


@dataclass
class RoundReport:
    sent_events: int = 0
    sent_bytes: int = 0
    received_events: int = 0
    received_bytes: int = 0
    quarantined: int = 0
    skew_seconds: int | None = None
    sent_chunks: int = 0  # attachment chunks sent up (server/relay/chunks.py)
    received_chunks: int = 0  # attachment chunks fetched down


Progress = Callable[[str], None]


@dataclass
class _Link:
    parent: NodePeer
    keyring: Keyring
    http: httpx.AsyncClient
    me: str
    parent_keys: list[PublicKeys]
    skew: int | None = None  # the parent's clock minus ours, from the last answer
    verify_keys: list[PublicKeys] = field(default_factory=list)  # + retired in grace
    announced: bool = False  # our new keys were announced this round (directory.py)

    async def exchange(
        self, path: str, payload: dict[str, Any], expected: str
    ) -> tuple[dict[str, Any], int, int]:
        """Seal, post, open the answer; returns (answer payload, bytes sent, bytes received).

        No database session is held meanwhile: a slow link must not keep a transaction open.
        """
        keys = self.parent_keys
        if not keys:
            raise SyncFailed("没有上级节点的有效公钥，请重新加入（yichuang join）")
        sealed = seal(encode(payload), sender=self.keyring.current, recipients=keys[:1])
        started = utcnow()
        try:
            response = await self.http.post(
                self.parent.url.rstrip("/") + path,
                content=sealed,
                headers={"Content-Type": ENVELOPE},
            )
        except httpx.HTTPError as problem:
            raise SyncFailed(f"连接上级节点失败：{type(problem).__name__} {problem}") from None
        if response.status_code == 403 and not self.announced:
            self.announced = refusal_reason(response) == "unknown_sender"  # we rolled keys?
            if self.announced and await announce_keys(
                self.http, self.parent.url, self.keyring, self.me, keys
            ):
                return await self.exchange(path, payload, expected)
        if response.status_code != 200:
            raise SyncFailed(_refusal_text(response))
        try:
            opened = open_envelope(
                response.content,
                me=list(self.keyring.all),
                sender_lookup=directory_lookup(self.verify_keys or keys),
            )
            answer = decode(opened.payload, expected)
        except (EnvelopeRefused, WireError) as problem:
            raise SyncFailed(f"上级节点的答复无法验证：{problem}") from None
        measured = _skew(answer, started, utcnow())
        self.skew = self.skew if measured is None else measured
        return answer, len(sealed), len(response.content)


def _refusal_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"上级节点拒绝（{response.status_code} {body['reason']}）：{body['detail']}"
    except (ValueError, KeyError, TypeError):
        return f"上级节点答复 HTTP {response.status_code}"


def _skew(answer: dict[str, Any], started: dt.datetime, ended: dt.datetime) -> int | None:
    """The parent's `server_time` against the middle of our request (half the round trip)."""
    try:
        server = dt.datetime.fromisoformat(str(answer.get("server_time")))
    except ValueError:
        return None
    if server.tzinfo is None:
        return None
    return skew_seconds(server, started + (ended - started) / 2)


async def sync_round(
    db: Database,
    cipher: FieldCipher,
    settings: Settings,
    *,
    http: httpx.AsyncClient | None = None,
    progress: Progress | None = None,
) -> RoundReport:
    """One round: push all pending, pull until `more` is false. Raises SyncFailed."""
    say = progress or (lambda _text: None)
    async with db.session() as session:
        parent = await parent_peer(session)
        parent_keys = await peer_public_keys(session, parent.region_code) if parent else []
        verify_keys = await parent_verify_keys(session, parent.region_code) if parent else []
    if parent is None or not parent.url:
        raise NotEnrolled("本节点还没有加入上级节点：请先运行 yichuang join --parent … --code …")
    report = RoundReport()
    owns_http = http is None
    client = http or httpx.AsyncClient(timeout=TIMEOUT)
    link = _Link(
        parent=parent,
        keyring=node_keys(settings),
        http=client,
        me=settings.region_code,
        parent_keys=parent_keys,
        verify_keys=verify_keys,
    )
    try:
        await _attempt(db, parent.region_code)
        await _push(db, cipher, link, report, say)
        await send_attachments(db, cipher, link, report, say)
        await _pull(db, cipher, link, report, say)
        await fetch_attachments(db, cipher, link, report, say)
    except SyncFailed as failed:
        await _record(db, parent.region_code, error=str(failed), skew=link.skew)
        raise
    finally:
        if owns_http:
            await client.aclose()
    report.skew_seconds = link.skew
    await _record(db, parent.region_code, error="", skew=report.skew_seconds, report=report)
    return report


async def _push(
    db: Database, cipher: FieldCipher, link: _Link, report: RoundReport, say: Progress
) -> None:
    region = link.parent.region_code
    for _ in range(MAX_BATCHES):
        async with db.session() as session:
            after = await cursor_of(session, region, "up")
            batch = await pending_up(session, cipher, parent=region, after=after)
        if not batch.events:
            return
        payload = up_payload(link.me, batch)
        answer, sent, got = await link.exchange("/api/sync/up", payload, "ack")
        if answer.get("upto") != batch.upto:
            raise SyncFailed("上级节点的确认与发送的批次不符")
        async with db.session() as session:
            await do_move_cursor(session, region, "up", batch.upto)
            await session.commit()
        report.sent_events += len(batch.events)
        report.sent_bytes += sent
        report.received_bytes += got
        say(f"上传 {len(batch.events)} 个事件（{sent} 字节），已确认至 {batch.upto}")


async def _pull(
    db: Database, cipher: FieldCipher, link: _Link, report: RoundReport, say: Progress
) -> None:
    region = link.parent.region_code
    for _ in range(MAX_BATCHES):
        async with db.session() as session:
            after = await cursor_of(session, region, "down")
            reference = await reference_request(session, region)
        payload = {
            "type": "pull",
            "from": link.me,
            "cursor": after,
            "sent_at": utcnow().isoformat(timespec="milliseconds"),
            "reference": reference,  # what we hold of the catalogue and calendar
        }
        answer, sent, got = await link.exchange("/api/sync/down", payload, "feed")
        link.parent_keys, link.verify_keys = await apply_feed_extras(db, region, answer)
        events, result = await store_feed(db, cipher, link.parent, answer, floor=after, me=link.me)
        report.received_events += result.stored
        report.quarantined += result.quarantined
        report.sent_bytes += sent
        report.received_bytes += got
        if events:
            say(f"下载 {len(events)} 个事件（{got} 字节），新增 {result.stored} 个")
        if not answer.get("more"):
            return


def up_payload(me: str, batch: Batch) -> dict[str, Any]:
    """One batch of the up stream as it travels (HTTP push or bundle)."""
    return {
        "type": "up",
        "from": me,
        "events": batch.events,
        "upto": batch.upto,
        "sent_at": utcnow().isoformat(timespec="milliseconds"),
    }


async def store_feed(
    db: Database,
    cipher: FieldCipher,
    parent: NodePeer,
    answer: dict[str, Any],
    *,
    floor: int,
    me: str = "",
) -> tuple[list[Any], IngestResult]:
    """Apply one opened feed batch, then move the down cursor; `floor`: the least valid cursor."""
    events, cursor = answer.get("events"), answer.get("cursor")
    if not isinstance(events, list) or not isinstance(cursor, int) or cursor < floor:
        raise SyncFailed("上级节点下发的数据格式不正确")
    async with db.session() as session:
        result = await ingest_events(
            session,
            cipher,
            peer=parent.region_code,
            peer_name=parent.name,
            direction="down",
            events=events,
            me=me,
        )
        await do_move_cursor(session, parent.region_code, "down", cursor)
        await session.commit()
    return events, result


async def _attempt(db: Database, peer: str) -> None:
    async with db.session() as session:
        status = await status_of(session, peer)
        status.last_attempt_at = utcnow()
        session.add(status)
        await session.commit()


async def _record(
    db: Database,
    peer: str,
    *,
    error: str,
    skew: int | None,
    report: RoundReport | None = None,
) -> None:
    async with db.session() as session:
        status = await status_of(session, peer)
        if skew is not None:
            status.clock_skew_seconds = skew
        if error:
            status.last_error = error[:2000]
            status.failures += 1
        else:
            status.last_error, status.failures = "", 0
            status.last_success_at = utcnow()
        if report is not None:
            status.pushed += report.sent_events
            status.pulled += report.received_events
        session.add(status)
        await session.commit()


async def sync_loop(
    db: Database,
    cipher: FieldCipher,
    settings: Settings,
    *,
    interval: float = INTERVAL_S,
    nudge: asyncio.Event | None = None,
    on_round: Callable[[RoundReport | None], None] | None = None,
) -> None:
    """Rounds forever (a task in the app's lifespan, cancelled at shutdown)."""
    backoff = Backoff(base=2.0, cap=300.0)
    wake = nudge or asyncio.Event()
    while True:
        delay = interval
        report: RoundReport | None = None
        try:
            done = await sync_round(db, cipher, settings)
        except NotEnrolled:
            delay = max(interval, 60.0)
        except SyncFailed as failed:
            log.warning("sync round failed: %s", failed)
            delay = max(1.0, backoff.failure())
        except Exception:  # a bug must not end the loop; it is logged and retried
            log.exception("sync round crashed")
            delay = max(1.0, backoff.failure())
        else:
            report = done
            backoff.success()
            if done.sent_events or done.received_events:
                log.info(
                    "sync round: %d up, %d down, skew %ss",
                    *(done.sent_events, done.received_events, done.skew_seconds),
                )
        if on_round is not None:
            on_round(report)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=delay)
        wake.clear()
