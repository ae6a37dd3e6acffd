"""Notification tables: the centre's rows, preferences, deadline bookkeeping, push, SMS.

- `notification`: one row per user and thing to tell; `(user_id, dedupe_key)` is unique, so
  one event never tells one user twice, whatever retries or repeats the sync brings. Texts
  name the case by its serial only: no applicant's name, number or phone.
- `notification_preference`: a row only where a user turned a kind off (`enabled` false);
  the kinds in `MANDATORY` are told regardless.
- `notification_sent`: one row per case and warning level already told (yellow, red), so the
  periodic job tells each level once, not every few minutes.
- `push_subscription` / `push_delivery`: a browser's Web Push endpoint and keys (per user),
  and at most one pending push per subscription (a push only says "there is something new").
- `sms_message`: one text to an applicant per event (`dedupe_key` unique), with its delivery
  status; the phone stays on the case, encrypted, and is opened only to send.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow

KINDS: dict[str, str] = {
    "result": "办理结果",
    "supplement": "补正通知",
    "assigned": "新办件待办理",
    "deadline": "期限预警",
    "catalog": "事项目录更新",
    "system": "系统消息",
}
# Deadline warnings (and the operator's own messages) cannot be turned off.
MANDATORY: frozenset[str] = frozenset({"deadline", "system"})
SMS_STATUSES: dict[str, str] = {
    "queued": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "发送失败，待重试",
    "given_up": "已放弃",
}


class Notification(SQLModel, table=True):
    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("user_id", "dedupe_key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    kind: str = Field(max_length=16)
    title: str = Field(max_length=100)
    text: str = Field(max_length=500)
    link: str = Field(default="", max_length=200)
    dedupe_key: str = Field(max_length=120)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    read_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class NotificationPreference(SQLModel, table=True):
    __tablename__ = "notification_preference"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True)
    kind: str = Field(primary_key=True, max_length=16)
    enabled: bool = True


class NotificationSent(SQLModel, table=True):
    __tablename__ = "notification_sent"

    case_id: str = Field(foreign_key="case_record.id", primary_key=True, max_length=36)
    level: str = Field(primary_key=True, max_length=8)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class PushSubscription(SQLModel, table=True):
    __tablename__ = "push_subscription"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    endpoint: str = Field(max_length=1000, unique=True)
    p256dh: str = Field(max_length=200)  # the browser's P-256 key, base64url
    auth: str = Field(max_length=64)  # the shared auth secret, base64url
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_success_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class PushDelivery(SQLModel, table=True):
    __tablename__ = "push_delivery"

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(
        foreign_key="push_subscription.id", unique=True, ondelete="CASCADE"
    )
    link: str = Field(default="", max_length=200)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    claimed_until: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class SmsMessage(SQLModel, table=True):
    __tablename__ = "sms_message"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=120, unique=True)
    case_id: str = Field(foreign_key="case_record.id", max_length=36, index=True)
    template: str = Field(max_length=32)
    params: str = Field(sa_type=Text)  # JSON: the template's values (serial, centre)
    status: str = Field(default="queued", max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    claimed_until: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str = Field(default="", sa_type=Text)
    gateway_ref: str = Field(default="", max_length=100)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
