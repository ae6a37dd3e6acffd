"""The nodes this one talks to, their public keys, and the county's one-time enrolment codes.

A township has one peer, its county (`relation` "parent", with the county's base URL); a county
has one peer per enrolled township (`relation` "child", no URL: townships call the county, never
the other way round). A peer's keys are pinned at enrolment and change only by rotation (a
signed announcement from the old key), re-enrolment with a fresh code, or revocation.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow

Relation = Literal["parent", "child"]
RELATIONS: tuple[Relation, ...] = ("parent", "child")
# A retired key (superseded by rotation) still verifies envelopes signed before the new key was
# announced, for this long: a batch may sit in an outbox or on a USB stick for weeks.
RETIRED_KEY_GRACE = dt.timedelta(days=30)


class NodePeer(SQLModel, table=True):
    __tablename__ = "node_peer"

    region_code: str = Field(primary_key=True, max_length=12)
    name: str = Field(max_length=100)
    relation: str = Field(max_length=8)  # parent | child
    url: str = Field(default="", max_length=255)  # the parent's base URL; empty for a child
    enrolled_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class PeerKey(SQLModel, table=True):
    """One generation of a peer's public keys.

    Active: neither retired nor revoked; new envelopes are sealed to it and its signatures are
    accepted. Retired (`retired_at`): a newer generation was announced; its signatures are
    still accepted for RETIRED_KEY_GRACE after retirement, never sealed to. Revoked
    (`revoked_at`): never accepted again, whatever else the row says.
    """

    __tablename__ = "peer_key"

    key_id: str = Field(primary_key=True, max_length=32)  # hex of the 16-byte key id
    region_code: str = Field(foreign_key="node_peer.region_code", max_length=12, index=True)
    signing: str = Field(max_length=128)  # base64url of the SEC1 point
    receiving: str = Field(max_length=128)
    added_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    retired_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class EnrolmentCode(SQLModel, table=True):
    """A one-time code the county gives a township; only its hash is stored."""

    __tablename__ = "enrolment_code"

    code_hash: str = Field(primary_key=True, max_length=64)  # SHA-256 hex of the normalised code
    region_code: str = Field(max_length=12, index=True)
    name: str = Field(max_length=100)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime)
    used_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
