"""Accounts: users and their roles, personal API tokens, failed sign-ins."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow


class Role(StrEnum):
    VILLAGE_AGENT = "village_agent"
    CLERK = "clerk"
    WINDOW_LEAD = "window_lead"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_NAMES: dict[str, str] = {
    Role.VILLAGE_AGENT: "村代办员",
    Role.CLERK: "窗口工作人员",
    Role.WINDOW_LEAD: "窗口负责人",
    Role.SUPERVISOR: "监督人员",
    Role.ADMIN: "系统管理员",
}

# Which org-unit level each role works at.
ROLE_LEVELS: dict[str, tuple[str, ...]] = {
    Role.VILLAGE_AGENT: ("village",),
    Role.CLERK: ("township", "county"),
    Role.WINDOW_LEAD: ("township", "county"),
    Role.SUPERVISOR: ("township", "county"),
    Role.ADMIN: ("township", "county"),
}


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=32, unique=True)
    display_name: str = Field(max_length=50)
    # The phone is personal data: stored encrypted, found by its keyed hash.
    phone_enc: str | None = Field(default=None, max_length=255)
    phone_hash: str | None = Field(default=None, max_length=64, unique=True)
    role: str = Field(max_length=16)
    org_unit_code: str = Field(foreign_key="org_unit.code", max_length=12, index=True)
    password_hash: str = Field(max_length=255)
    active: bool = True
    must_change_password: bool = False
    # Bumped on password change and disabling: every older session cookie stops working.
    session_epoch: int = 0
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_sign_in_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)

    @property
    def uid(self) -> int:
        """The id of a stored user, which is never None once saved."""
        if self.id is None:
            raise RuntimeError("the user has not been saved yet")
        return self.id

    @property
    def role_name(self) -> str:
        return ROLE_NAMES.get(self.role, self.role)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16)  # shown in lists; the token itself is never stored
    token_hash: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_used_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class SignInFailure(SQLModel, table=True):
    """One failed sign-in, counted per account and per address for rate limiting."""

    __tablename__ = "sign_in_failure"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, index=True)  # keyed hash: no phone or name stored in clear
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)
