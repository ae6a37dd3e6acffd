"""Every page's template uses only what its context dataclass and the shared context give it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from jinja2 import meta, nodes

from server.agent import device_views as devices
from server.agent import views as agent
from server.auth import views as auth
from server.calendar import views as calendar
from server.cases import list_views as case_lists
from server.cases import views as cases
from server.cases.papers import PaperPage
from server.cases.progress import ProgressPage
from server.catalog import grants, transfer_views
from server.catalog import views as catalog
from server.catalog.guide import GuidePage
from server.errors import ErrorPage
from server.home import views as home
from server.nodes import views as node_views
from server.notify import views as notify
from server.policy import views as policy
from server.relay import views as relay
from server.settings import PWA_DIR
from server.templating import templates
from server.users import views as users
from server.windows import views as windows

SHARED = {"request", "user", "node", "csrf_token", "flash", "clock_warning", "unread_count"}
PAGES: dict[str, type] = {
    "auth/signin.html": auth.SigninPage,
    "auth/password.html": auth.PasswordPage,
    "home/index.html": home.HomePage,
    "users/list.html": users.UserListPage,
    "users/form.html": users.UserFormPage,
    "users/password.html": users.PasswordIssuedPage,
    "windows/list.html": windows.WindowListPage,
    "windows/form.html": windows.WindowFormPage,
    "calendar/list.html": calendar.CalendarListPage,
    "calendar/show.html": calendar.CalendarYearPage,
    "catalog/list.html": catalog.CatalogListPage,
    "catalog/show.html": catalog.CatalogItemPage,
    "catalog/form.html": catalog.CatalogFormPage,
    "catalog/compare.html": catalog.CatalogComparePage,
    "catalog/claims.html": catalog.CatalogClaimsPage,
    "catalog/import.html": transfer_views.CatalogImportPage,
    "catalog/preview.html": transfer_views.CatalogPreviewPage,
    "catalog/guide.html": GuidePage,
    "windows/items.html": grants.WindowItemsPage,
    "policy/show.html": policy.PolicyPage,
    "relay/inbox.html": relay.RelayInboxPage,
    "relay/sync.html": relay.SyncPage,
    "cases/list.html": case_lists.CaseListPage,
    "errors/error.html": ErrorPage,
    "cases/new.html": cases.CaseNewPage,
    "cases/show.html": cases.CaseShowPage,
    "cases/paper.html": PaperPage,
    "cases/progress.html": ProgressPage,
    "nodes/county.html": node_views.CountyNodesPage,
    "nodes/township.html": node_views.TownshipNodesPage,
    "agent/home.html": agent.AgentHomePage,
    "agent/new.html": agent.AgentNewPage,
    "agent/outbox.html": agent.AgentOutboxPage,
    "agent/unlock.html": agent.AgentUnlockPage,
    "agent/devices.html": devices.DeviceListPage,
    "agent/enrol.html": devices.DeviceEnrolPage,
    "errors/offline.html": agent.OfflinePage,
    "notify/list.html": notify.NotificationListPage,
    "notify/preferences.html": notify.NotificationPreferencesPage,
}


def _undeclared(name: str) -> set[str]:
    source = (PWA_DIR / "templates" / name).read_text(encoding="utf-8")
    tree = templates.env.parse(source)
    imported = {
        name if isinstance(name, str) else name[1]
        for node in tree.find_all(nodes.FromImport)
        for name in node.names
    }
    # Variables the template sets itself ({% set %}) are its own, not the context's.
    assigned = {
        node.target.name
        for node in tree.find_all(nodes.Assign)
        if isinstance(node.target, nodes.Name)
    }
    declared = set(templates.env.globals) | imported | assigned
    return meta.find_undeclared_variables(tree) - declared


@pytest.mark.parametrize("name", sorted(PAGES))
def test_template_uses_only_its_context(name: str) -> None:
    fields = {field.name for field in dataclasses.fields(PAGES[name])}
    assert _undeclared(name) <= fields | SHARED, _undeclared(name) - fields - SHARED


def test_every_page_template_has_a_context() -> None:
    root = PWA_DIR / "templates"
    pages = {
        path.relative_to(root).as_posix()
        for path in root.rglob("*.html")
        if path.parent != root and path.parent.name != "components"
    }
    assert pages == set(PAGES), "a page template without a context dataclass"


def test_base_uses_only_the_shared_context() -> None:
    assert _undeclared("base.html") <= SHARED
    assert Path(PWA_DIR / "templates" / "base.html").exists()
