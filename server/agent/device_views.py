"""/agent/devices: a village agent's phones; window staff enrol and revoke them.

One page, two views: a village agent sees their own phones and may revoke one (a lost phone);
window staff and admins of a township see their centre's agents' phones, make a one-time code
for an agent (shown once, with a QR code the phone scans) and revoke any of them. /agent/enrol
is where the phone, signed in as the agent, presents the code (pwa/js/device.js): unlike the
/agent shells it is an ordinary page, online only, with the session's CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.agent.devices import (
    CODE_LIFETIME,
    DEVICE_STAFF,
    centre_agents,
    devices_of,
    do_create_device_code,
    do_revoke_device,
)
from server.agent.models import AgentDevice, AgentDeviceCode
from server.auth.access import NotFound, current_user, require_role
from server.auth.models import Role, User
from server.catalog.guide import guide_qr
from server.context import client_ip, flash, get_db, get_settings, public_link
from server.forms import ValidationFailed, form_values, whole_number
from server.nodes.codes import format_code, normalise_code
from server.templating import render

PAGE_ROLES = frozenset({*DEVICE_STAFF, Role.VILLAGE_AGENT})


@dataclass
class IssuedDeviceCode:
    """A code just made: shown on this response only, never stored in clear."""

    code: str
    row: AgentDeviceCode
    agent: User
    link: str
    qr_src: str
    qr_size: int
    minutes: int


@dataclass
class DeviceRow:
    device: AgentDevice
    owner: str


@dataclass
class DeviceListPage:
    is_staff: bool
    devices: list[DeviceRow]
    agents: list[User]
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    issued: IssuedDeviceCode | None = None


@dataclass
class DeviceEnrolPage:
    pass


def _township(request: Request) -> None:
    if get_settings(request).role != "township":
        raise NotFound("村代办员的手机在乡镇节点上登记")


async def _page(
    request: Request,
    user: User,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    issued: IssuedDeviceCode | None = None,
) -> DeviceListPage:
    is_staff = user.role in DEVICE_STAFF
    async with get_db(request).session() as session:
        agents = await centre_agents(session, user) if is_staff else [user]
        names = {agent.id: agent.display_name for agent in agents}
        devices = await devices_of(session, [agent.id for agent in agents if agent.id])
    rows = [DeviceRow(device, names.get(device.user_id, "")) for device in devices]
    return DeviceListPage(
        is_staff, rows, agents if is_staff else [], values or {}, errors or {}, issued
    )


async def device_list(request: Request) -> Response:
    user = current_user(request)
    require_role(user, PAGE_ROLES)
    _township(request)
    return render(request, "agent/devices.html", await _page(request, user))


async def device_code_create(request: Request) -> Response:
    user = current_user(request)
    require_role(user, DEVICE_STAFF)
    _township(request)
    values = form_values(await request.form(), "agent_id")
    chosen = values["agent_id"]
    agent_id = whole_number(chosen) or 0
    async with get_db(request).session() as session:
        try:
            row, agent, code = await do_create_device_code(
                session=session, actor=user, agent_id=agent_id, ip=client_ip(request)
            )
        except ValidationFailed as failed:
            page = await _page(request, user, values, failed.errors)
            return render(request, "agent/devices.html", page, status_code=422)
    link = public_link(request, "/agent/enrol") + "#code=" + format_code(normalise_code(code))
    qr_src, qr_size = guide_qr(link)
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    issued = IssuedDeviceCode(code, row, agent, link, qr_src, qr_size, minutes)
    response = render(request, "agent/devices.html", await _page(request, user, issued=issued))
    response.headers["Cache-Control"] = "no-store"  # the code is shown once, kept nowhere
    return response


async def device_revoke(request: Request) -> Response:
    user = current_user(request)
    require_role(user, PAGE_ROLES)
    _township(request)
    async with get_db(request).session() as session:
        device = await do_revoke_device(
            session=session,
            actor=user,
            key_id=request.path_params["key_id"],
            ip=client_ip(request),
        )
    flash(request, f"已吊销“{device.name}”：这部手机发来的办件不再被接收，要再用须重新登记。")
    return RedirectResponse("/agent/devices", status_code=303)


async def device_enrol_form(request: Request) -> Response:
    user = current_user(request)
    require_role(user, frozenset({Role.VILLAGE_AGENT}))
    _township(request)
    response = render(request, "agent/enrol.html", DeviceEnrolPage())
    response.headers["Cache-Control"] = "no-store"
    return response
