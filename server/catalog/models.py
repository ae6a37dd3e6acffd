"""The catalogue of service items (事项目录): one item, one code, one standard.

An item's identity (codes, status) is `CatalogItem`; what it says (name, basis, conditions,
limits, materials…) is a `CatalogItemVersion`. Editing makes a new version and never changes
an old one, so a case taken under version 3 is always shown with version 3's rules. Items are
retired, never deleted. Element names follow GB/T 39046 and the glossary.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import UtcDateTime, utcnow

ITEM_TYPES: dict[str, str] = {
    "01": "行政许可",
    "02": "行政处罚",
    "03": "行政强制",
    "04": "行政征收",
    "05": "行政给付",
    "06": "行政检查",
    "07": "行政确认",
    "08": "行政奖励",
    "09": "行政裁决",
    "10": "其他行政权力",
    "20": "公共服务",
}
LEVELS: dict[str, str] = {"4": "县级", "5": "乡镇（街道）级", "6": "村（社区）级"}
HANDLING_KINDS: dict[str, str] = {
    "immediate": "即办件",
    "promised": "承诺件",
    "joint": "联办件",
    "relayed": "上报件",
}
RESULT_TYPES: dict[str, str] = {
    "certificate": "证照",
    "decision": "批文（决定书）",
    "other": "其他",
}
STATUSES: dict[str, str] = {"active": "在用", "retired": "已停用"}


class CatalogItem(SQLModel, table=True):
    __tablename__ = "catalog_item"

    id: int | None = Field(default=None, primary_key=True)
    basic_code: str = Field(max_length=12, index=True)
    implementation_code: str = Field(max_length=31, unique=True)
    status: str = Field(default="active", max_length=16)
    current_version: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    retired_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class CatalogItemVersion(SQLModel, table=True):
    __tablename__ = "catalog_item_version"
    __table_args__ = (UniqueConstraint("item_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="catalog_item.id", index=True)
    version: int
    name: str = Field(max_length=200)
    item_type: str = Field(max_length=2)
    level: str = Field(max_length=1)
    implementing_body: str = Field(max_length=100)
    department: str = Field(default="", max_length=100)
    legal_basis: str = Field(default="", sa_type=Text)
    conditions: str = Field(default="", sa_type=Text)
    process: str = Field(default="", sa_type=Text)
    handling_kind: str = Field(max_length=16)
    lead_department: str = Field(default="", max_length=100)
    co_departments: str = Field(default="", max_length=500)  # one per line
    decision_body: str = Field(default="", max_length=100)
    statutory_limit: int
    statutory_unit: str = Field(max_length=16)
    promised_limit: int
    promised_unit: str = Field(max_length=16)
    fee_charged: bool = False
    fee_standard: str = Field(default="不收费", max_length=500)
    fee_basis: str = Field(default="", max_length=500)
    result_name: str = Field(default="", max_length=200)
    result_type: str = Field(default="other", max_length=16)
    visits_required: int = 1
    online_depth: int = 1
    appointment: bool = False
    post_delivery: bool = False
    online_application: bool = False
    place_and_time: str = Field(default="", max_length=500)
    enquiry_phone: str = Field(default="", max_length=50)
    complaint_phone: str = Field(default="", max_length=50)
    change_note: str = Field(default="", max_length=500)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")


class CatalogMaterial(SQLModel, table=True):
    __tablename__ = "catalog_material"

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="catalog_item_version.id", index=True)
    position: int
    name: str = Field(max_length=200)
    issuer: str = Field(default="", max_length=100)
    originals: int = 0
    copies: int = 0
    required: bool = True
    gap_allowed: bool = False  # 容缺: may be missing at intake under a signed commitment
    note: str = Field(default="", max_length=500)
    sample: str = Field(default="", max_length=1000)


class TownshipItem(SQLModel, table=True):
    """A township's claim: it handles this item at its centre."""

    __tablename__ = "township_item"
    __table_args__ = (UniqueConstraint("org_unit_code", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    org_unit_code: str = Field(foreign_key="org_unit.code", max_length=12, index=True)
    item_id: int = Field(foreign_key="catalog_item.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class WindowItem(SQLModel, table=True):
    """Window authorisation (窗口授权): what a window may accept, decide and deliver."""

    __tablename__ = "window_item"
    __table_args__ = (UniqueConstraint("window_id", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    window_id: int = Field(foreign_key="service_window.id", index=True)
    item_id: int = Field(foreign_key="catalog_item.id", index=True)
    can_accept: bool = True
    can_decide: bool = False
    can_deliver: bool = True
