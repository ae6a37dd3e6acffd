"""/admin/nodes: the county enrols its townships; a township joins its county.

One URL, two pages: a county's admin sees the enrolled townships (key ids, revocation) and
creates one-time codes, shown once; a township's admin joins the county with a code, then sees
the county it pinned. Only a centre's admin opens either; the county's actions are refused on
a township and the township's on a county.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.auth.access import MANAGE_USERS, Forbidden, NotFound, current_user, require_role
from server.auth.models import User
from server.catalog.guide import guide_qr
from server.context import client_ip, flash, get_db, get_settings, public_link
from server.forms import ValidationFailed, form_values
from server.nodes.codes import join_link
from server.nodes.enrolment import do_create_enrolment_code, do_revoke_peer, open_codes
from server.nodes.join import join_parent
from server.nodes.keys import node_keys
from server.nodes.models import EnrolmentCode, NodePeer, PeerKey
from server.nodes.queries import child_peers, parent_peer, peer_keys
from server.templating import render

CODE_FIELDS = ("region_code", "name")
JOIN_FIELDS = ("parent_url", "code", "rejoin")


@dataclass
class PeerRow:
    peer: NodePeer
    keys: list[PeerKey]


@dataclass
class IssuedCode:
    """A code just created: shown on this response only, never stored in clear."""

    code: str
    row: EnrolmentCode
    base: str  # the county's address, as the township types it
    link: str
    qr_src: str
    qr_size: int


@dataclass
class CountyNodesPage:
    townships: list[PeerRow]
    codes: list[EnrolmentCode]
    own_key_id: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    issued: IssuedCode | None = None


@dataclass
class TownshipNodesPage:
    parent: PeerRow | None
    own_key_id: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _admin(request: Request, role: str) -> User:
    """The signed-in admin of this centre, on a node of the given role."""
    user = current_user(request)
    require_role(user, MANAGE_USERS)
    if get_settings(request).role != role:
        raise Forbidden("这个操作只能在" + ("县级" if role == "county" else "乡镇") + "节点上进行")
    return user


async def _county_page(
    request: Request,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    issued: IssuedCode | None = None,
) -> CountyNodesPage:
    async with get_db(request).session() as session:
        peers = await child_peers(session, include_revoked=True)
        rows = [PeerRow(peer, await peer_keys(session, peer.region_code)) for peer in peers]
        codes = await open_codes(session)
    own = node_keys(request).key_id.hex()
    return CountyNodesPage(rows, codes, own, values or {}, errors or {}, issued)


async def _township_page(
    request: Request, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> TownshipNodesPage:
    async with get_db(request).session() as session:
        peer = await parent_peer(session)
        row = PeerRow(peer, await peer_keys(session, peer.region_code)) if peer else None
    own = node_keys(request).key_id.hex()
    return TownshipNodesPage(row, own, values or {}, errors or {})


async def node_list(request: Request) -> Response:
    user = current_user(request)
    require_role(user, MANAGE_USERS)
    if get_settings(request).role == "county":
        return render(request, "nodes/county.html", await _county_page(request))
    return render(request, "nodes/township.html", await _township_page(request))


async def node_code_create(request: Request) -> Response:
    user = _admin(request, "county")
    values = form_values(await request.form(), *CODE_FIELDS)
    async with get_db(request).session() as session:
        try:
            row, code = await do_create_enrolment_code(
                session=session,
                settings=get_settings(request),
                actor=user,
                region_code=values["region_code"],
                name=values["name"],
                ip=client_ip(request),
            )
        except ValidationFailed as failed:
            page = await _county_page(request, values, failed.errors)
            return render(request, "nodes/county.html", page, status_code=422)
    base = public_link(request, "/").rstrip("/")
    link = join_link(base, code)
    qr_src, qr_size = guide_qr(link)
    page = await _county_page(request, issued=IssuedCode(code, row, base, link, qr_src, qr_size))
    response = render(request, "nodes/county.html", page)
    response.headers["Cache-Control"] = "no-store"  # the code is shown once, kept nowhere
    return response


async def node_revoke(request: Request) -> Response:
    user = _admin(request, "county")
    region_code = request.path_params["region_code"]
    async with get_db(request).session() as session:
        peer = await session.get(NodePeer, region_code)
        if peer is None or peer.relation != "child":
            raise NotFound("没有这个已接入的乡镇")
        await do_revoke_peer(
            session=session, actor=user, region_code=region_code, ip=client_ip(request)
        )
    flash(request, f"已吊销 {peer.name}（{region_code}）：它发来的数据包不再被接受。")
    return RedirectResponse("/admin/nodes", status_code=303)


async def node_join(request: Request) -> Response:
    user = _admin(request, "township")
    values = form_values(await request.form(), *JOIN_FIELDS)
    settings = get_settings(request)
    async with get_db(request).session() as session:
        try:
            peer, county_keys = await join_parent(
                session=session,
                settings=settings,
                keys=node_keys(request).current.public(),
                parent=values["parent_url"],
                code=values["code"],
                rejoin=values["rejoin"] == "on",
                actor=user,
                ip=client_ip(request),
                transport=getattr(request.app.state, "peer_transport", None),
            )
        except ValidationFailed as failed:
            page = await _township_page(request, values, failed.errors)
            return render(request, "nodes/township.html", page, status_code=422)
    request.app.state.settings = dataclasses.replace(
        settings, parent_url=peer.url, parent_region_code=peer.region_code, parent_name=peer.name
    )
    flash(
        request,
        f"已接入 {peer.name}（{peer.region_code}）。县级密钥编号 {county_keys.key_id.hex()}，"
        "请与县级页面上显示的核对。",
    )
    return RedirectResponse("/admin/nodes", status_code=303)
