"""The county's local rules page: the promised-limit rule and the warning threshold."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.access import current_user
from server.catalog.actions import require_catalogue_editor
from server.context import client_ip, flash, get_db, get_settings
from server.forms import ValidationFailed, form_values
from server.policy.actions import POLICY_FIELDS, do_set_policy
from server.policy.queries import PROMISE_RULES, Policy, load_policy
from server.templating import render


@dataclass
class PolicyPage:
    policy: Policy
    rules: dict[str, str]
    values: dict[str, str]
    can_edit: bool
    errors: dict[str, str] = field(default_factory=dict)


def _values(policy: Policy) -> dict[str, str]:
    return {
        "promise_rule": policy.promise_rule,
        "promise_percent": str(policy.promise_percent),
        "warning_percent": str(policy.warning_percent),
        "relay_percent": str(policy.relay_percent),
    }


async def policy_show(request: Request) -> Response:
    user = current_user(request)
    async with get_db(request).session() as session:
        policy = await load_policy(session)
    can_edit = get_settings(request).role == "county" and user.role == "admin"
    return render(
        request, "policy/show.html", PolicyPage(policy, PROMISE_RULES, _values(policy), can_edit)
    )


async def policy_update(request: Request) -> Response:
    user = current_user(request)
    require_catalogue_editor(user, get_settings(request))
    values = form_values(await request.form(), *POLICY_FIELDS)
    async with get_db(request).session() as session:
        try:
            await do_set_policy(session=session, actor=user, values=values, ip=client_ip(request))
        except ValidationFailed as failed:
            policy = await load_policy(session)
            page = PolicyPage(policy, PROMISE_RULES, values, True, failed.errors)
            return render(request, "policy/show.html", page, status_code=422)
    flash(request, "本县规定已保存。")
    return RedirectResponse("/admin/policy", status_code=303)
