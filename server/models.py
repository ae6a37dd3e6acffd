"""Every table, imported in one place so the metadata is complete (Alembic, tests)."""

from sqlmodel import SQLModel

from server.audit.models import AuditLog
from server.auth.models import ApiToken, SignInFailure, User
from server.org.models import OrgUnit
from server.windows.models import Window

metadata = SQLModel.metadata

__all__ = ["ApiToken", "AuditLog", "OrgUnit", "SignInFailure", "User", "Window", "metadata"]
