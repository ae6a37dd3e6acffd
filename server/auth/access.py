"""Who may see and do what. Every page and API handler asks here; nothing else decides.

The roles: a village agent sees only their own work, a clerk only their centre, an admin
manages the accounts and windows of their centre, and the county sees what its townships send
it. Org units are nested by region code, so "within" is a prefix test on the code.
"""

from __future__ import annotations

from typing import Any, Protocol

from starlette.exceptions import HTTPException

from server.auth.models import Role, User

MANAGE_USERS = frozenset({Role.ADMIN})
VIEW_WINDOWS = frozenset({Role.ADMIN, Role.WINDOW_LEAD, Role.SUPERVISOR})
MANAGE_WINDOWS = frozenset({Role.ADMIN})
# Pages a user who must change their password may still open.
PASSWORD_CHANGE_PATHS = frozenset({"/account/password", "/signout"})


class SignInRequired(Exception):
    """Nobody is signed in: pages redirect to the sign-in page, the API answers 401."""


class PasswordChangeRequired(Exception):
    """The user signed in with a temporary password and must choose their own first."""


class Forbidden(HTTPException):
    def __init__(self, detail: str = "您没有权限访问这个页面") -> None:
        super().__init__(status_code=403, detail=detail)


class NotFound(HTTPException):
    def __init__(self, detail: str = "没有找到这条记录") -> None:
        super().__init__(status_code=404, detail=detail)


class HasScope(Protocol):
    @property
    def scope(self) -> Any: ...


def current_user(connection: HasScope) -> User:
    """The signed-in user, or the sign-in page; a temporary password sends them to change it.

    Pages and the API both call this, with a Starlette or a Litestar connection.
    """
    user = connection.scope.get("user")
    if user is None:
        raise SignInRequired
    if not isinstance(user, User):
        raise SignInRequired
    if user.must_change_password and connection.scope["path"] not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired
    return user


def require_role(user: User, roles: frozenset[Role]) -> None:
    if user.role not in roles:
        raise Forbidden
