"""Saving the county's local rules."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.actions import do_record_audit
from server.auth.models import User
from server.db import utcnow
from server.forms import ValidationFailed, whole_number
from server.policy.models import PolicySetting
from server.policy.queries import PROMISE_RULES

POLICY_FIELDS = ("promise_rule", "promise_percent", "warning_percent", "relay_percent")


async def do_set_policy(
    *, session: AsyncSession, actor: User | None, values: dict[str, str], ip: str = ""
) -> None:
    errors: dict[str, str] = {}
    if values.get("promise_rule") not in PROMISE_RULES:
        errors["promise_rule"] = "请选择一种承诺时限规则"
    for name, label, low, high in (
        ("promise_percent", "比例", 1, 99),
        ("warning_percent", "黄色预警比例", 50, 99),
        ("relay_percent", "上报期限比例", 10, 90),
    ):
        raw = values.get(name, "")
        if (number := whole_number(raw)) is None or not low <= number <= high:
            errors[name] = f"{label}请填写 {low}–{high} 之间的整数"
    if errors:
        raise ValidationFailed(errors)
    for key in POLICY_FIELDS:
        row = await session.get(PolicySetting, key) or PolicySetting(key=key, value="")
        row.value = values[key]
        row.updated_at = utcnow()
        row.updated_by_id = actor.id if actor else None
        session.add(row)
    do_record_audit(
        session=session, actor_id=actor.id if actor else None, action="policy.set", ip=ip, **values
    )
    await session.commit()
