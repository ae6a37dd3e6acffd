"""The village agent's pages: static shells that the service worker caches and scripts fill in.

Every shell is the same for every visitor: no user, no CSRF token, no flash message, no clock
banner (the shared context's fields are overridden below), because one cached copy serves
whoever holds the phone, offline, for days. What belongs to the agent (the drafts, the cases)
lives encrypted in IndexedDB and is rendered by `pwa/js/` after the PIN unlocks it; the
catalogue comes from `GET /api/catalog`. Without JavaScript the pages point to `/cases/new`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from server.cases.identity import ID_TYPES
from server.cases.models import APPLICANT_KINDS
from server.templating import render


@dataclass
class AgentShell:
    """The shared context a shell may use: only what is the same for everyone."""

    user: None = None
    flash: str = ""
    clock_warning: None = None


@dataclass
class AgentHomePage(AgentShell):
    pass


@dataclass
class AgentUnlockPage(AgentShell):
    pass


@dataclass
class AgentOutboxPage(AgentShell):
    pass


@dataclass
class AgentNewPage(AgentShell):
    applicant_kinds: dict[str, str] = field(default_factory=lambda: dict(APPLICANT_KINDS))
    id_types: dict[str, str] = field(default_factory=lambda: dict(ID_TYPES))


@dataclass
class OfflinePage(AgentShell):
    pass


async def agent_home(request: Request) -> Response:
    return render(request, "agent/home.html", AgentHomePage())


async def agent_new(request: Request) -> Response:
    return render(request, "agent/new.html", AgentNewPage())


async def agent_outbox(request: Request) -> Response:
    return render(request, "agent/outbox.html", AgentOutboxPage())


async def agent_unlock(request: Request) -> Response:
    return render(request, "agent/unlock.html", AgentUnlockPage())


async def offline_page(request: Request) -> Response:
    """What the service worker shows for a page that needs the network when there is none."""
    return render(request, "errors/offline.html", OfflinePage())
