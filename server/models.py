"""Every table, imported in one place so the metadata is complete (Alembic, tests)."""

from sqlmodel import SQLModel

from server.audit.models import AuditLog
from server.auth.models import ApiToken, SignInFailure, User
from server.calendar.models import CalendarDay, CalendarYear
from server.cases.models import CaseEvent, CaseRecord, SerialCounter
from server.catalog.models import (
    CatalogItem,
    CatalogItemVersion,
    CatalogMaterial,
    TownshipItem,
    WindowItem,
)
from server.org.models import OrgUnit
from server.policy.models import PolicySetting
from server.windows.models import Window

metadata = SQLModel.metadata

__all__ = [
    "ApiToken",
    "AuditLog",
    "CalendarDay",
    "CalendarYear",
    "CaseEvent",
    "CaseRecord",
    "CatalogItem",
    "CatalogItemVersion",
    "CatalogMaterial",
    "OrgUnit",
    "PolicySetting",
    "SerialCounter",
    "SignInFailure",
    "TownshipItem",
    "User",
    "Window",
    "WindowItem",
    "metadata",
]
