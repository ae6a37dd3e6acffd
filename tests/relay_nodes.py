"""Several nodes in one process for the sync tests: a county and townships, each with its own
data directory (own keys) and own database, enrolled with each other by inserting the peers
directly (the enrolment flow has its own tests), the townships reaching the county through an
ASGI transport.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url
from sqlmodel import col, select
from starlette.applications import Starlette

from server.auth.models import Role, User
from server.cases.actions import Intake, do_apply
from server.cases.events import events_of
from server.cases.models import CaseEvent, CaseRecord
from server.catalog.actions import do_set_claims
from server.catalog.models import CatalogItem
from server.nodes.keys import ensure_node_keys
from server.nodes.models import NodePeer
from server.nodes.peers import do_add_peer_key
from server.org.actions import do_ensure_node_units
from server.relay.client import RoundReport, sync_round
from server.settings import Settings, init_data_dir, load_settings
from tests.conftest import running
from tests.factories import make_item, make_user, open_intake

COUNTY = "990102"
TOWNSHIP_A = "990102101000"
TOWNSHIP_B = "990102102000"
NAMES = {
    COUNTY: "示范县政务服务中心",
    TOWNSHIP_A: "青山镇便民服务中心",
    TOWNSHIP_B: "白水乡便民服务中心",
}
COUNTY_URL = "http://county.test"
RELAYED = {"handling_kind": "relayed", "decision_body": "示范县民政局"}


@dataclass
class Node:
    app: Starlette
    settings: Settings
    clerk: User
    item: CatalogItem
    relayed_item: CatalogItem
    admin: User | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return self.settings.region_code


def node_settings(folder: Path, region: str, database_url: str) -> Settings:
    county = region == COUNTY
    init_data_dir(
        folder,
        role="county" if county else "township",
        region_code=region,
        name=NAMES[region],
        parent_region_code="" if county else COUNTY,
        parent_name="" if county else "示范县",
    )
    return dataclasses.replace(load_settings(folder), database_url=database_url)


def sqlite_copy(template_url: str, target: Path) -> str:
    shutil.copyfile(make_url(template_url).database or "", target)
    return f"sqlite:///{target}"


async def _prepare(app: Starlette) -> Node:
    settings: Settings = app.state.settings
    async with app.state.db.session() as session:
        await do_ensure_node_units(session=session, settings=settings)
        await session.commit()
    region = settings.region_code
    # One admin who also works the window: every password hash costs set-up time.
    admin = await make_user(app, role=Role.ADMIN, username=f"admin.{region}", org_unit_code=region)
    clerk = admin
    item = await make_item(app)
    relayed = await make_item(app, basic_code="992000102000", name="上报事项", **RELAYED)
    if settings.role == "township":
        async with app.state.db.session() as session:
            await do_set_claims(
                session=session, actor=admin, item_ids={item.id or 0, relayed.id or 0}
            )
    return Node(
        app=app, settings=settings, clerk=clerk, item=item, relayed_item=relayed, admin=admin
    )


async def link(county: Node, township: Node) -> None:
    """Enrol `township` under `county` by writing both sides' peers and keys."""
    county_keys = ensure_node_keys(county.settings.data_dir).public()
    township_keys = ensure_node_keys(township.settings.data_dir).public()
    async with county.app.state.db.session() as session:
        session.add(
            NodePeer(region_code=township.region, name=NAMES[township.region], relation="child")
        )
        await session.flush()
        await do_add_peer_key(
            session=session, region_code=township.region, keys=township_keys, replace="revoke"
        )
        await session.commit()
    async with township.app.state.db.session() as session:
        session.add(
            NodePeer(region_code=COUNTY, name=NAMES[COUNTY], relation="parent", url=COUNTY_URL)
        )
        await session.flush()
        await do_add_peer_key(
            session=session, region_code=COUNTY, keys=county_keys, replace="revoke"
        )
        await session.commit()


@asynccontextmanager
async def nodes(urls: dict[str, str], folder: Path) -> AsyncIterator[dict[str, Node]]:
    """Running, linked nodes, one per region in `urls` (the county first)."""
    async with AsyncExitStack() as stack:
        found: dict[str, Node] = {}
        for region, url in urls.items():
            settings = node_settings(folder / region, region, url)
            app = await stack.enter_async_context(running(settings))
            found[region] = await _prepare(app)
        for region, node in found.items():
            if region != COUNTY:
                await link(found[COUNTY], node)
        yield found


def county_http(county: Node) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=county.app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=COUNTY_URL)


async def sync(township: Node, county: Node) -> RoundReport:
    async with county_http(county) as http:
        return await sync_round(
            township.app.state.db, township.app.state.cipher, township.settings, http=http
        )


def intake(item: CatalogItem, name: str = "王秀兰") -> Intake:
    assert item.id is not None
    return Intake(
        item_id=item.id,
        channel="window",
        applicant_name=name,
        applicant_id_type="resident_id",
        applicant_id="11010519491231002X",
        applicant_phone="13912345678",
        applicant_address="青山镇青山村三组 12 号",
    )


async def open_case(node: Node, *, relayed: bool = False) -> CaseRecord:
    return await open_intake(
        node.app, node.clerk, intake(node.relayed_item if relayed else node.item)
    )


async def command(
    node: Node, case_id: str, name: str, body: dict[str, Any] | None = None
) -> CaseEvent:
    async with node.app.state.db.session() as session:
        case = await session.get(CaseRecord, case_id)
        assert case is not None
        return await do_apply(
            session=session,
            cipher=node.app.state.cipher,
            settings=node.settings,
            actor=node.clerk,
            case=case,
            command=name,  # type: ignore[arg-type]
            body=body,
        )


async def chain_of(node: Node, case_id: str) -> list[tuple[str, int, str]]:
    async with node.app.state.db.session() as session:
        return [(e.id, e.seq, e.hash) for e in await events_of(session, case_id)]


async def all_events(node: Node, within: str = "") -> set[tuple[str, str]]:
    """(id, hash) of every event of cases within a region this node holds."""
    async with node.app.state.db.session() as session:
        query = select(CaseEvent.id, CaseEvent.hash).join(
            CaseRecord, col(CaseRecord.id) == col(CaseEvent.case_id)
        )
        if within:
            query = query.where(col(CaseRecord.org_unit_code).startswith(within[:9]))
        return {(row[0], row[1]) for row in (await session.exec(query)).all()}
