"""This node's hybrid logical clock (sync/hlc.py): a stamp for every event it logs.

An event made here gets `stamp_local(node)` (the same stamp on `case_event.hlc` and its
`sync_log.hlc`); an event received gets, on its `sync_log` row, `stamp_received(node, its
stamp)`: the merge, which is later than both the event's stamp and everything this node has
stamped. The event keeps the creating node's stamp (`case_event.hlc`), which travels with it
(outside its hash: the stamp orders, the hash proves content). So when a township whose clock
is slow acts on a county decision it has received, its stamp still comes after the decision's.

One clock per node region in a process (tests run several nodes in one process). A clock is
seeded from the largest stamp in the node's log (`seed_clock`) when the app starts and before
the first ingest of a process, so it never goes back across restarts. Several worker
processes of one node each keep their own clock, seeded the same way; their stamps differ in
time, and equal stamps (one millisecond, one counter) fall back to the order of the log.

A remote stamp more than MAX_DRIFT ahead of our wall clock is not merged (a clock set a year
ahead must not drag ours along for ever): the row gets a local stamp and a warning is logged.
The stamps are never shown in the interface.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol, TypeVar

from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db import Database
from server.relay.models import SyncLog
from sync.hlc import ClockDrift, HybridClock, Stamp

log = logging.getLogger("yichuang.sync")
MAX_DRIFT_MS = 24 * 3600 * 1000

_CLOCKS: dict[str, HybridClock] = {}
_SEEDED: set[str] = set()


def node_clock(node: str) -> HybridClock:
    clock = _CLOCKS.get(node)
    if clock is None:
        clock = _CLOCKS[node] = HybridClock(node=node, max_drift_ms=MAX_DRIFT_MS)
    return clock


def stamp_local(node: str) -> str:
    """A stamp for an event this node makes now."""
    return str(node_clock(node).now())


def parse_stamp(text: object) -> Stamp | None:
    """A stamp from the wire or a row; None for an absent or malformed one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return Stamp.parse(text)
    except ValueError:
        return None


def stamp_received(node: str, remote: object) -> str:
    """This node's stamp for receiving an event stamped `remote` (merged into our clock)."""
    clock = node_clock(node)
    stamp = parse_stamp(remote)
    if stamp is None:
        return str(clock.now())
    try:
        return str(clock.observe(stamp))
    except ClockDrift as drift:
        log.warning("hlc: not merging a stamp from %s: %s", stamp.node, drift)
        return str(clock.now())


async def seed_clock(session: AsyncSession, node: str, *, force: bool = False) -> None:
    """Move the node's clock past the largest stamp in its log (once per process)."""
    if node in _SEEDED and not force:
        return
    latest = (await session.exec(select(func.max(SyncLog.hlc)))).one()
    stamp = parse_stamp(latest)
    if stamp is not None:
        clock = node_clock(node)
        clock.max_drift_ms = None  # our own log is trusted, however far ahead it went
        try:
            clock.observe(stamp)
        finally:
            clock.max_drift_ms = MAX_DRIFT_MS
    _SEEDED.add(node)


class Stamped(Protocol):
    @property
    def hlc(self) -> str: ...

    @property
    def seq(self) -> int: ...


StampedT = TypeVar("StampedT", bound=Stamped)


def causal_order(events: Iterable[StampedT]) -> list[StampedT]:
    """Events (of one case, from any nodes) in clock order; unstamped ones by their seq.

    Within one case the chain's `seq` is authoritative; this is the order to merge the
    events of one case with others' (a case's timeline beside notifications, or several
    cases on the county), and it agrees with `seq` because every node stamps an event after
    observing the one before it.
    """
    return sorted(events, key=lambda e: (parse_stamp(e.hlc) or Stamp(0, 0, "-"), e.seq))


async def receiving_clock(session: AsyncSession, me: str, peer: str, direction: str) -> str:
    """The clock id of the node ingesting from `peer`, its clock seeded (relay/ingest.py).

    A caller that knows its region passes it; otherwise a push comes up to the county,
    whose code is the first six digits of every code below it.
    """
    node = me or (peer[:6] if direction == "up" else "node")
    await seed_clock(session, node)
    return node


async def seed_clock_at_start(db: Database, node: str) -> None:
    """Seed the node's clock when the app starts (its lifespan), so that stamps made before
    anything is received follow the log too. A database that cannot be read is logged, not
    raised: the first ingest seeds the clock then."""
    try:
        async with db.session() as session:
            await seed_clock(session, node, force=True)
    except SQLAlchemyError as problem:
        log.warning("hlc: could not seed the clock from the sync log: %s", problem)
