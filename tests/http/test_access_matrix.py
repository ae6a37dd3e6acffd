"""Every route, every role: who gets the page, who is refused, who is sent to sign in.

A new route without a row here fails `test_every_route_is_in_the_matrix`, so nothing is
added without someone deciding who may use it.
"""

from __future__ import annotations

import hashlib

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from server.auth.models import Role
from server.routes import ROUTES
from tests.conftest import csrf_of, make_client, sign_in
from tests.factories import PASSWORD, Personas, make_persona_case, make_persona_scan
from tests.scan_files import tiny_png

ANON = "anonymous"
ROLES = [ANON, *[role.value for role in Role]]
SIGNIN = "signin"  # expected: a redirect to the sign-in page
SCAN = tiny_png(b"access matrix")  # attached to the persona case by its clerk

# (method, path template, {role: expected}); "*" is every signed-in role.
STAFF_VIEW: dict[str, int | str] = {Role.ADMIN: 200, Role.WINDOW_LEAD: 200, Role.SUPERVISOR: 200}
AGENT_DEVICES: dict[str, int | str] = {
    Role.VILLAGE_AGENT: 200,
    Role.CLERK: 200,
    Role.WINDOW_LEAD: 200,
    Role.ADMIN: 200,
}
DEVICE_CODES: dict[str, int | str] = {Role.CLERK: 422, Role.WINDOW_LEAD: 422, Role.ADMIN: 422}
DEVICE_REVOKE: dict[str, int | str] = {
    Role.VILLAGE_AGENT: 404,
    Role.CLERK: 404,
    Role.WINDOW_LEAD: 404,
    Role.ADMIN: 404,
}
MATRIX: list[tuple[str, str, dict[str, int | str]]] = [
    ("GET", "/", {ANON: SIGNIN, "*": 200}),
    ("GET", "/signin", {ANON: 200, "*": 303}),
    ("POST", "/signin", {ANON: 422, "*": 422}),
    ("POST", "/signout", {ANON: 303, "*": 303}),
    ("GET", "/account/password", {ANON: SIGNIN, "*": 200}),
    ("POST", "/account/password", {ANON: SIGNIN, "*": 422}),
    ("GET", "/admin/users", {ANON: SIGNIN, "*": 403, Role.ADMIN: 200}),
    ("GET", "/admin/users/new", {ANON: SIGNIN, "*": 403, Role.ADMIN: 200}),
    ("POST", "/admin/users", {ANON: SIGNIN, "*": 403, Role.ADMIN: 422}),
    ("GET", "/admin/users/{user_id}", {ANON: SIGNIN, "*": 403, Role.ADMIN: 200}),
    ("POST", "/admin/users/{user_id}", {ANON: SIGNIN, "*": 403, Role.ADMIN: 422}),
    ("POST", "/admin/users/{user_id}/password", {ANON: SIGNIN, "*": 403, Role.ADMIN: 200}),
    ("GET", "/admin/windows", {ANON: SIGNIN, "*": 403, **STAFF_VIEW}),
    ("GET", "/admin/windows/new", {ANON: SIGNIN, "*": 403, Role.ADMIN: 200}),
    ("POST", "/admin/windows", {ANON: SIGNIN, "*": 403, Role.ADMIN: 422}),
    ("GET", "/admin/windows/{window_id}", {ANON: SIGNIN, "*": 403, **STAFF_VIEW}),
    ("POST", "/admin/windows/{window_id}", {ANON: SIGNIN, "*": 403, Role.ADMIN: 422}),
    # The catalogue: read by everyone signed in, edited only at the county (this is a township).
    ("GET", "/catalog", {ANON: SIGNIN, "*": 200}),
    ("GET", "/catalog/new", {ANON: SIGNIN, "*": 403}),
    ("POST", "/catalog", {ANON: SIGNIN, "*": 403}),
    ("GET", "/catalog/claims", {ANON: SIGNIN, "*": 403, Role.ADMIN: 200}),
    ("POST", "/catalog/claims", {ANON: SIGNIN, "*": 403, Role.ADMIN: 303}),
    # Export for everyone signed in; import only by the county's admin (refused here even to admin).
    ("GET", "/catalog/export.xlsx", {ANON: SIGNIN, "*": 200}),
    ("GET", "/catalog/export.csv", {ANON: SIGNIN, "*": 200}),
    ("GET", "/catalog/import", {ANON: SIGNIN, "*": 403}),
    ("POST", "/catalog/import", {ANON: SIGNIN, "*": 403}),
    ("POST", "/catalog/import/confirm", {ANON: SIGNIN, "*": 403}),
    ("GET", "/catalog/{item_id}", {ANON: SIGNIN, "*": 200}),
    ("GET", "/catalog/{item_id}/edit", {ANON: SIGNIN, "*": 403}),
    ("POST", "/catalog/{item_id}", {ANON: SIGNIN, "*": 403}),
    ("GET", "/catalog/{item_id}/compare", {ANON: SIGNIN, "*": 200}),
    ("POST", "/catalog/{item_id}/status", {ANON: SIGNIN, "*": 403}),
    ("GET", "/admin/windows/{window_id}/items", {ANON: SIGNIN, "*": 403, **STAFF_VIEW}),
    ("POST", "/admin/windows/{window_id}/items", {ANON: SIGNIN, "*": 403, Role.ADMIN: 303}),
    # Nodes: only a centre's admin; this is a township, so the county's actions (codes,
    # revocation) are refused even to its admin, and joining with an empty form is a 422.
    ("GET", "/admin/nodes", {ANON: SIGNIN, "*": 403, Role.ADMIN: 200}),
    ("POST", "/admin/nodes/codes", {ANON: SIGNIN, "*": 403}),
    ("POST", "/admin/nodes/join", {ANON: SIGNIN, "*": 403, Role.ADMIN: 422}),
    ("POST", "/admin/nodes/{region_code}/revoke", {ANON: SIGNIN, "*": 403}),
    ("GET", "/admin/policy", {ANON: SIGNIN, "*": 200}),
    ("POST", "/admin/policy", {ANON: SIGNIN, "*": 403}),
    # The working-day calendar: every staff role reads it; only a county's admin edits it, so on
    # this township node even the admin is refused.
    ("GET", "/admin/calendar", {ANON: SIGNIN, "*": 200, Role.VILLAGE_AGENT: 403}),
    ("GET", "/admin/calendar/{year}", {ANON: SIGNIN, "*": 200, Role.VILLAGE_AGENT: 403}),
    ("POST", "/admin/calendar/{year}", {ANON: SIGNIN, "*": 403}),
    # Case lists: every signed-in role, each seeing its own share (tests/http/test_case_lists.py).
    ("GET", "/cases", {ANON: SIGNIN, "*": 200}),
    # Cases: intake by the window staff and village agents (who file for villagers); the case
    # page for whoever may see the case (a village agent only their own); commands by staff.
    ("GET", "/cases/new", {ANON: SIGNIN, "*": 200, Role.SUPERVISOR: 403}),
    ("POST", "/cases", {ANON: SIGNIN, "*": 422, Role.SUPERVISOR: 403}),
    ("GET", "/cases/{case_id}", {ANON: SIGNIN, "*": 200, Role.VILLAGE_AGENT: 404}),
    # Papers: printed for whoever may see the case, and only once their event happened; the
    # persona case is still submitted here (this row runs before the accept row), so none yet.
    ("GET", "/cases/{case_id}/papers/{paper}", {ANON: SIGNIN, "*": 404}),
    (
        "POST",
        "/cases/{case_id}/commands/accept",
        {ANON: SIGNIN, "*": 303, Role.SUPERVISOR: 403, Role.VILLAGE_AGENT: 404},
    ),
    # Scans: uploaded by whoever may attach (window staff; a village agent only to the cases
    # they filed, and this one is the clerk's), here without a file; opened by whoever may see
    # the case, since the case links the file.
    (
        "POST",
        "/cases/{case_id}/attachments",
        {ANON: SIGNIN, "*": 422, Role.SUPERVISOR: 403, Role.VILLAGE_AGENT: 404},
    ),
    (
        "GET",
        "/cases/{case_id}/attachments/{sha256}",
        {ANON: SIGNIN, "*": 200, Role.VILLAGE_AGENT: 404},
    ),
    # The relay inbox is the county's (this is a township: not found); the sync page is for the
    # centre's admin, window lead and supervisor.
    ("GET", "/relay", {ANON: SIGNIN, "*": 404}),
    ("GET", "/admin/sync", {ANON: SIGNIN, "*": 403, **STAFF_VIEW}),
    # Bundles (USB stick) are the admin's: this township has no parent yet, so nothing to export
    # (409), and a form post without a file is refused (422).
    ("GET", "/admin/sync/bundle", {ANON: SIGNIN, "*": 403, Role.ADMIN: 409}),
    ("POST", "/admin/sync/bundle", {ANON: SIGNIN, "*": 403, Role.ADMIN: 422}),
    # Notifications: everyone signed in has their own; another's (or none) is not found. The
    # stream answers a plain GET (not an EventSource) with the count once.
    ("GET", "/notifications", {ANON: SIGNIN, "*": 200}),
    ("POST", "/notifications/read", {ANON: SIGNIN, "*": 303}),
    ("POST", "/notifications/{notification_id}/read", {ANON: SIGNIN, "*": 404}),
    ("GET", "/notifications/preferences", {ANON: SIGNIN, "*": 200}),
    ("POST", "/notifications/preferences", {ANON: SIGNIN, "*": 303}),
    ("GET", "/notifications/stream", {ANON: SIGNIN, "*": 200}),
    ("GET", "/api/notifications", {ANON: 401, "*": 200}),
    ("GET", "/api/notifications/count", {ANON: 401, "*": 200}),
    ("GET", "/api/push/key", {ANON: 401, "*": 200}),
    # The service guide is public: the catalogue is public information.
    ("GET", "/guide/{code}", {ANON: 200, "*": 200}),
    # The progress page (办件查询) is public; an empty form is refused with a Chinese message.
    ("GET", "/progress", {ANON: 200, "*": 200}),
    ("POST", "/progress", {ANON: 422, "*": 422}),
    ("GET", "/static/{path}", {ANON: 200, "*": 200}),
    # The village agent's offline app: static shells, the same for everyone (no data in them;
    # the agent's own cases are encrypted in the phone's IndexedDB), the worker, the manifest.
    ("GET", "/agent", {ANON: 200, "*": 200}),
    ("GET", "/agent/new", {ANON: 200, "*": 200}),
    ("GET", "/agent/outbox", {ANON: 200, "*": 200}),
    ("GET", "/agent/unlock", {ANON: 200, "*": 200}),
    ("GET", "/offline", {ANON: 200, "*": 200}),
    # The agents' phones: each agent sees and revokes their own; the township's window staff
    # and admin make one-time codes and revoke any of their centre's (the id here is nobody's).
    ("GET", "/agent/devices", {ANON: SIGNIN, "*": 403, **AGENT_DEVICES}),
    ("POST", "/agent/devices/codes", {ANON: SIGNIN, "*": 403, **DEVICE_CODES}),
    ("POST", "/agent/devices/{key_id}/revoke", {ANON: SIGNIN, "*": 403, **DEVICE_REVOKE}),
    ("GET", "/agent/enrol", {ANON: SIGNIN, "*": 403, Role.VILLAGE_AGENT: 200}),
    ("GET", "/sw.js", {ANON: 200, "*": 200}),
    ("GET", "/manifest.webmanifest", {ANON: 200, "*": 200}),
    ("GET", "/api/health", {ANON: 200, "*": 200}),
    ("GET", "/api/me", {ANON: 401, "*": 200}),
    ("GET", "/api/schema", {ANON: 200, "*": 200}),
    ("GET", "/api/catalog", {ANON: 200, "*": 200}),
    # Enrolment is the county's; a township has no such thing (a form post is not even JSON).
    ("POST", "/api/nodes/enrol", {ANON: 400, "*": 400}),
    # Sync takes sealed envelopes from child nodes only; a township serves none, to anyone.
    ("POST", "/api/sync/up", {ANON: 404, "*": 404}),
    ("POST", "/api/sync/down", {ANON: 404, "*": 404}),
    ("POST", "/api/sync/chunks", {ANON: 404, "*": 404}),
    ("POST", "/api/sync/chunks/have", {ANON: 404, "*": 404}),
    ("POST", "/api/sync/chunks/fetch", {ANON: 404, "*": 404}),
    # Photos from the agent's phone: village agents only, each to their own uploads (a form
    # post is not the JSON declaration; the id here is nobody's). PUTs: test_agent_uploads.py.
    ("GET", "/api/agent/uploads", {ANON: 401, "*": 403, Role.VILLAGE_AGENT: 200}),
    ("POST", "/api/agent/uploads", {ANON: 401, "*": 403, Role.VILLAGE_AGENT: 400}),
    ("GET", "/api/agent/uploads/{upload_id}", {ANON: 401, "*": 403, Role.VILLAGE_AGENT: 404}),
    # A phone registers its keys as its agent (JSON with the session's token; a form post is
    # not JSON); its sync is a sealed envelope, which a form post is not.
    ("POST", "/api/agent/devices", {ANON: 400, "*": 400}),
    ("POST", "/api/agent/sync", {ANON: 400, "*": 400}),
    ("GET", "/api/agent/notifications/unread", {ANON: 401, "*": 403, Role.VILLAGE_AGENT: 200}),
]


def expected(row: dict[str, int | str], role: str) -> int | str:
    return row.get(role, row.get("*", 0)) if role != ANON else row[ANON]


def test_every_route_is_in_the_matrix() -> None:
    covered = {(method, path) for method, path, _ in MATRIX}
    for route in ROUTES:
        assert isinstance(route, Route)
        path = route.path.replace(":int", "").replace(":path", "")
        for method in (route.methods or set()) - {"HEAD"}:
            if path == "/cases/{case_id}/commands/{command}":
                path = "/cases/{case_id}/commands/accept"  # the walker needs a real command
            assert (method, path) in covered, f"{method} {path} has no row in the access matrix"


async def _walk(client: httpx.AsyncClient, personas: Personas) -> list[str]:
    """Request every row; return the mismatches as readable lines."""
    role_of_client = client.headers.get("x-test-role", ANON)
    # The target of the admin row is another account, never the admin's own.
    target = personas.by_role[Role.CLERK].id
    assert personas.window is not None
    assert personas.item is not None
    filled = {
        "user_id": str(target),
        "window_id": str(personas.window.id),
        "item_id": str(personas.item.id),
        "code": personas.item.implementation_code,
        "path": "css/app.css",
        "year": "2026",
        "case_id": personas.case_id or "",
        "paper": "acceptance",
        "sha256": hashlib.sha256(SCAN).hexdigest(),
        "region_code": "990102102000",
        "notification_id": "999999",
        "upload_id": "0" * 32,
        "key_id": "0" * 32,
    }
    problems = []
    for method, template, row in MATRIX:
        path = template.format(**filled)
        want = expected(row, role_of_client)
        if method == "GET":
            response = await client.get(path)
        else:
            token = await csrf_of(
                client, "/account/password" if role_of_client != ANON else "/signin"
            )
            response = await client.post(path, data={"csrf_token": token})
        got: int | str = response.status_code
        if got == 303 and response.headers["location"].startswith("/signin?next="):
            got = SIGNIN
        if got != want:
            problems.append(f"{role_of_client:>14} {method} {path}: expected {want}, got {got}")
        if role_of_client != ANON and method == "POST" and path == "/signout":
            # Signing out ended the session: sign in again for the rows that follow.
            await sign_in(client, personas.by_role[role_of_client].username, PASSWORD)
    return problems


@pytest.mark.parametrize("role", ROLES)
async def test_role_by_route(app: Starlette, personas: Personas, role: str) -> None:
    await make_persona_case(app, personas)
    await make_persona_scan(app, personas, SCAN)
    async with make_client(app) as client:
        client.headers["x-test-role"] = role
        if role != ANON:
            response = await sign_in(client, personas.by_role[role].username, PASSWORD)
            assert response.status_code == 303, response.text
        problems = await _walk(client, personas)
    assert not problems, "\n" + "\n".join(problems)
