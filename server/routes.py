"""Every page's URL, grouped by domain. Route names equal handler names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.auth import views as auth
from server.home import views as home
from server.static import static_file
from server.users import views as users
from server.windows import views as windows

Handler = Callable[[Request], Awaitable[Response]]


def get(path: str, handler: Handler) -> Route:
    return Route(path, handler, methods=["GET"], name=handler.__name__)


def post(path: str, handler: Handler) -> Route:
    return Route(path, handler, methods=["POST"], name=handler.__name__)


ROUTES: list[BaseRoute] = [
    # home
    get("/", home.home),
    # auth
    get("/signin", auth.signin_form),
    post("/signin", auth.signin_submit),
    post("/signout", auth.signout),
    get("/account/password", auth.password_form),
    post("/account/password", auth.password_change),
    # users (admin)
    get("/admin/users", users.user_list),
    get("/admin/users/new", users.user_new),
    post("/admin/users", users.user_create),
    get("/admin/users/{user_id:int}", users.user_show),
    post("/admin/users/{user_id:int}", users.user_update),
    post("/admin/users/{user_id:int}/password", users.user_reset_password),
    # windows
    get("/admin/windows", windows.window_list),
    get("/admin/windows/new", windows.window_new),
    post("/admin/windows", windows.window_create),
    get("/admin/windows/{window_id:int}", windows.window_show),
    post("/admin/windows/{window_id:int}", windows.window_update),
    # static assets
    get("/static/{path:path}", static_file),
]
