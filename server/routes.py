"""Every page's URL, grouped by domain. Route names equal handler names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.agent import device_views as devices
from server.agent import views as agent
from server.attachments import views as attachments
from server.auth import views as auth
from server.calendar import views as calendar
from server.cases import list_views as case_lists
from server.cases import views as cases
from server.cases.papers import case_paper
from server.cases.progress import progress_form, progress_lookup
from server.catalog import grants, transfer_views
from server.catalog import views as catalog
from server.catalog.guide import guide_show
from server.home import views as home
from server.nodes import views as nodes
from server.notify import views as notify
from server.policy import views as policy
from server.pwa.manifest import web_manifest
from server.pwa.worker import service_worker
from server.relay import bundle_views as relay_bundles
from server.relay import views as relay
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
    # catalogue (the county edits; everyone signed in reads; each centre claims its items)
    get("/catalog", catalog.catalog_list),
    get("/catalog/new", catalog.catalog_new),
    post("/catalog", catalog.catalog_create),
    get("/catalog/claims", catalog.catalog_claims),
    post("/catalog/claims", catalog.catalog_claims_update),
    get("/catalog/export.xlsx", transfer_views.catalog_export_xlsx),
    get("/catalog/export.csv", transfer_views.catalog_export_csv),
    get("/catalog/import", transfer_views.catalog_import_form),
    post("/catalog/import", transfer_views.catalog_import_preview),
    post("/catalog/import/confirm", transfer_views.catalog_import_confirm),
    get("/catalog/{item_id:int}", catalog.catalog_show),
    get("/catalog/{item_id:int}/edit", catalog.catalog_edit),
    post("/catalog/{item_id:int}", catalog.catalog_update),
    get("/catalog/{item_id:int}/compare", catalog.catalog_compare),
    post("/catalog/{item_id:int}/status", catalog.catalog_set_status),
    get("/admin/windows/{window_id:int}/items", grants.window_items),
    post("/admin/windows/{window_id:int}/items", grants.window_items_update),
    # nodes: the county enrols its townships, a township joins its county (admins only)
    get("/admin/nodes", nodes.node_list),
    post("/admin/nodes/codes", nodes.node_code_create),
    post("/admin/nodes/join", nodes.node_join),
    post("/admin/nodes/{region_code}/revoke", nodes.node_revoke),
    # the county's local rules
    get("/admin/policy", policy.policy_show),
    post("/admin/policy", policy.policy_update),
    # calendar (every staff role reads it; the county's admin keeps it)
    get("/admin/calendar", calendar.calendar_list),
    get("/admin/calendar/{year:int}", calendar.calendar_show),
    post("/admin/calendar/{year:int}", calendar.calendar_update),
    # cases
    get("/cases", case_lists.case_list),
    get("/cases/{case_id}/papers/{paper}", case_paper),
    get("/cases/new", cases.case_new),
    post("/cases", cases.case_create),
    get("/cases/{case_id}", cases.case_show),
    post("/cases/{case_id}/commands/{command}", cases.case_command),
    post("/cases/{case_id}/attachments", attachments.attachment_create),
    get("/cases/{case_id}/attachments/{sha256}", attachments.attachment_show),
    # relay and sync (the county's inbox of relayed cases; each node's sync health)
    get("/relay", relay.relay_inbox_list),
    get("/admin/sync", relay.sync_status_show),
    get("/admin/sync/bundle", relay_bundles.sync_bundle_download),
    post("/admin/sync/bundle", relay_bundles.sync_bundle_upload),
    # notifications (每个人自己的消息)
    get("/notifications", notify.notification_list),
    post("/notifications/read", notify.notification_read_all),
    post("/notifications/{notification_id:int}/read", notify.notification_read),
    get("/notifications/preferences", notify.notification_preferences),
    post("/notifications/preferences", notify.notification_preferences_update),
    get("/notifications/stream", notify.notification_stream),
    # public
    get("/guide/{code}", guide_show),
    get("/progress", progress_form),
    post("/progress", progress_lookup),
    # the village agent's offline app: static shells, filled in from IndexedDB by pwa/js/
    get("/agent", agent.agent_home),
    get("/agent/new", agent.agent_new),
    get("/agent/outbox", agent.agent_outbox),
    get("/agent/unlock", agent.agent_unlock),
    get("/offline", agent.offline_page),
    # the agents' phones: enrolled with a clerk's one-time code, revoked by the agent or staff
    get("/agent/devices", devices.device_list),
    post("/agent/devices/codes", devices.device_code_create),
    post("/agent/devices/{key_id}/revoke", devices.device_revoke),
    get("/agent/enrol", devices.device_enrol_form),
    # static assets, the service worker and the web app manifest
    get("/static/{path:path}", static_file),
    get("/sw.js", service_worker),
    get("/manifest.webmanifest", web_manifest),
]
