"""Sync bookkeeping (docs/sync.md): the node's log of events, cursors, seen envelopes,
quarantine and the health of each link.

- `sync_log`: one row per case event this node holds, in the order it came to hold them
  (`seq`, the node's local sequence). Rows for events the node made have `origin` = its own
  region; rows for events it received name the peer they came from. The up stream sends the
  rows after the up cursor; the parent's feed for a child is its rows after the child's cursor.
- `sync_cursor`: how far each stream has got, per (peer, direction); written by the receiving
  side first (STYLE.md §5): the parent records what it stored before it answers, the child
  records what it was told only after its own commit.
- `sync_envelope_seen`: envelope ids already accepted, so a replayed envelope is refused.
- `sync_quarantine`: events that could not be applied (a broken chain, an unknown item), with
  the reason, shown on the sync page; they never block other cases.
- `sync_status`: the last attempt, success, error and clock skew of each link.
- `sync_reference`: on a child, how far it has applied the parent's reference data (catalogue
  versions, the working-day calendar): a position and the parent's digest, per kind.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow

DIRECTIONS = ("up", "down")


class SyncLog(SQLModel, table=True):
    __tablename__ = "sync_log"

    seq: int | None = Field(default=None, primary_key=True)  # the node's local sequence
    event_id: str = Field(max_length=36, unique=True)
    case_id: str = Field(max_length=36, index=True)
    origin: str = Field(max_length=12, index=True)  # region code of the node it came from
    # This node's clock stamp for the row: the event's own when made here, else the merge of
    # the event's stamp into this node's clock when it was received (server/relay/clock.py).
    hlc: str = Field(default="", max_length=64, index=True, sa_column_kwargs={"server_default": ""})
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class SyncCursor(SQLModel, table=True):
    __tablename__ = "sync_cursor"

    peer: str = Field(primary_key=True, max_length=12)  # the other node's region code
    direction: str = Field(primary_key=True, max_length=8)  # "up" or "down"
    position: int = 0  # the last sync_log seq (of the sending node) that is safely stored
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class SyncEnvelopeSeen(SQLModel, table=True):
    __tablename__ = "sync_envelope_seen"

    envelope_id: str = Field(primary_key=True, max_length=64)
    peer: str = Field(max_length=12)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class SyncQuarantine(SQLModel, table=True):
    __tablename__ = "sync_quarantine"

    id: int | None = Field(default=None, primary_key=True)
    peer: str = Field(max_length=12, index=True)
    direction: str = Field(max_length=8)
    case_id: str = Field(default="", max_length=36, index=True)
    event_id: str = Field(default="", max_length=36)
    reason: str = Field(max_length=32)  # a stable code, e.g. chain_break, unknown_item
    message: str = Field(sa_type=Text)  # in Chinese, for the sync page
    # The offending event as received (canonical JSON, clear body) or the envelope id.
    evidence: str = Field(sa_type=Text)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    resolved_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class SyncStatus(SQLModel, table=True):
    __tablename__ = "sync_status"

    peer: str = Field(primary_key=True, max_length=12)
    last_attempt_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_success_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str = Field(default="", sa_type=Text)
    failures: int = 0  # consecutive failed rounds, for the backoff
    # The peer's clock minus this node's clock, as last measured (seconds; + means ahead).
    clock_skew_seconds: int | None = None
    pushed: int = 0  # events sent up (child) or received from the child (parent), in total
    pulled: int = 0  # events received from the parent (child) or sent down (parent)


class SyncReference(SQLModel, table=True):
    """What a child last applied of its parent's reference data (server/relay/reference.py)."""

    __tablename__ = "sync_reference"

    peer: str = Field(primary_key=True, max_length=12)
    kind: str = Field(primary_key=True, max_length=16)  # "catalogue" or "calendar"
    position: int = 0  # catalogue: the parent's last catalog_item_version id applied
    digest: str = Field(default="", max_length=64)  # the parent's digest as last applied
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
