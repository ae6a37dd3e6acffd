"""Cases (办件): the append-only event log, which is the truth, and the projection for lists.

`CaseEvent` rows are written once and never updated or deleted; each names the hash of the
one before it (sync/chain.py), so an edited row is found by `yichuang verify`. The event body
may hold personal data, so it is stored encrypted with the node's data key; the hash is over
the clear canonical form, which every node can recompute after opening its own copy.
`CaseRecord` is a fold of the events, kept in the same transaction, for lists and queries;
the applicant's ID number, phone and address are encrypted there too, the ID number with a
keyed hash beside it for look-ups.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow

CHANNELS: dict[str, str] = {
    "window": "窗口",
    "village_agent": "村代办",
    "post": "邮寄",
    "online": "网上申请",
}
APPLICANT_KINDS: dict[str, str] = {"natural": "自然人", "legal": "法人或其他组织"}


class CaseRecord(SQLModel, table=True):
    __tablename__ = "case_record"

    id: str = Field(primary_key=True, max_length=36)  # UUIDv7, made where the case began
    serial: str = Field(max_length=32, unique=True)  # as printed: 990102101-261122-00042-93
    org_unit_code: str = Field(foreign_key="org_unit.code", max_length=12, index=True)
    item_id: int = Field(foreign_key="catalog_item.id", index=True)
    item_version: int
    kind: str = Field(max_length=16)
    state: str = Field(max_length=24, index=True)
    owner: str = Field(default="township", max_length=16)
    channel: str = Field(max_length=16)
    applicant_kind: str = Field(default="natural", max_length=16)
    applicant_name: str = Field(max_length=100)
    applicant_id_type: str = Field(max_length=20)
    applicant_id_enc: str = Field(max_length=255)
    applicant_id_hash: str = Field(max_length=64, index=True)
    applicant_phone_enc: str | None = Field(default=None, max_length=255)
    applicant_address_enc: str | None = Field(default=None, sa_type=Text)
    proxy_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    first_responsible_id: int | None = Field(default=None, foreign_key="user_account.id")
    window_id: int | None = Field(default=None, foreign_key="service_window.id")
    received_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    accepted_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    due_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    completed_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    delivered_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    paused_days: int = 0
    # When the clock stopped after acceptance (a suspension or a one-time notice in review).
    paused_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Facts the state machine's guards need, folded from the events.
    open_gaps: int = 0  # 容缺 materials promised and not yet brought in
    open_tasks: int = 0  # joint cases: co-departments' tasks not yet done
    paused_from: str | None = Field(default=None, max_length=24)  # the state before a pause
    last_seq: int = 0
    last_hash: str = Field(default="0" * 64, max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class CaseEvent(SQLModel, table=True):
    __tablename__ = "case_event"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: str = Field(primary_key=True, max_length=36)  # UUIDv7
    case_id: str = Field(foreign_key="case_record.id", max_length=36, index=True)
    seq: int
    kind: str = Field(max_length=32)
    actor: str = Field(max_length=64)  # "<node region code>/<user id>": unique across nodes
    node: str = Field(max_length=12)
    at: dt.datetime = Field(sa_type=UtcDateTime)
    body_enc: str = Field(sa_type=Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    signature: str | None = Field(default=None, max_length=255)  # the node's, with sync
    # The hybrid-logical-clock stamp the creating node gave it (sync/hlc.py); not hashed.
    hlc: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})


class SerialCounter(SQLModel, table=True):
    """The last sequence number handed out per township and day (流水号)."""

    __tablename__ = "serial_counter"

    org_unit_code: str = Field(primary_key=True, max_length=12)
    day: dt.date = Field(primary_key=True)
    last: int = 0
