"""GET /api/me: who the session cookie or the bearer token belongs to."""

from __future__ import annotations

from typing import Any, Literal, cast

from litestar import Request, get
from pydantic import BaseModel

from server.auth.access import current_user
from server.auth.models import ROLE_NAMES


class Me(BaseModel):
    id: int
    username: str
    display_name: str
    role: Literal["village_agent", "clerk", "window_lead", "supervisor", "admin"]
    role_name: str
    org_unit_code: str
    auth_via: Literal["session", "token"]


@get("/me", summary="当前用户", tags=["account"])
async def me(request: Request) -> Me:  # type: ignore[type-arg]
    user = current_user(request)
    return Me(
        id=user.uid,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        role_name=ROLE_NAMES[user.role],
        org_unit_code=user.org_unit_code,
        auth_via=cast(dict[str, Any], request.scope)["auth_via"],
    )
