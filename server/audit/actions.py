"""Writing to the audit log, inside the caller's transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.models import AuditLog


def do_record_audit(
    *,
    session: AsyncSession,
    actor_id: int | None,
    action: str,
    target: str = "",
    ip: str = "",
    **detail: Any,
) -> None:
    session.add(
        AuditLog(
            actor_id=actor_id,
            action=action,
            target=target,
            ip=ip,
            detail=json.dumps(detail, ensure_ascii=False, default=str)[:2000],
        )
    )
