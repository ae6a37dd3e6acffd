"""Every table, imported in one place so the metadata is complete (Alembic, tests)."""

from sqlmodel import SQLModel

from server.agent.models import AgentDevice, AgentDeviceCode, AgentIntake
from server.attachments.models import Attachment, AttachmentChunk, AttachmentUpload
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
from server.nodes.models import EnrolmentCode, NodePeer, PeerKey
from server.notify.models import (
    Notification,
    NotificationPreference,
    NotificationSent,
    PushDelivery,
    PushSubscription,
    SmsMessage,
)
from server.org.models import OrgUnit
from server.policy.models import PolicySetting
from server.relay.models import (
    SyncCursor,
    SyncEnvelopeSeen,
    SyncLog,
    SyncQuarantine,
    SyncReference,
    SyncStatus,
)
from server.windows.models import Window

metadata = SQLModel.metadata

__all__ = [
    "AgentDevice",
    "AgentDeviceCode",
    "AgentIntake",
    "ApiToken",
    "Attachment",
    "AttachmentChunk",
    "AttachmentUpload",
    "AuditLog",
    "CalendarDay",
    "CalendarYear",
    "CaseEvent",
    "CaseRecord",
    "CatalogItem",
    "CatalogItemVersion",
    "CatalogMaterial",
    "EnrolmentCode",
    "NodePeer",
    "Notification",
    "NotificationPreference",
    "NotificationSent",
    "OrgUnit",
    "PeerKey",
    "PolicySetting",
    "PushDelivery",
    "PushSubscription",
    "SerialCounter",
    "SignInFailure",
    "SmsMessage",
    "SyncCursor",
    "SyncEnvelopeSeen",
    "SyncLog",
    "SyncQuarantine",
    "SyncReference",
    "SyncStatus",
    "TownshipItem",
    "User",
    "Window",
    "WindowItem",
    "metadata",
]
