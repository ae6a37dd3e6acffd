"""Shared fixtures: databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set),
a node's app with its data directory, HTTP clients, personas, and a network guard.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import profiles
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

from server.app import create_app
from server.auth.passwords import use_parameters
from server.db import migrate, sync_url
from server.models import metadata
from server.settings import Settings, init_data_dir, load_settings
from tests.factories import PASSWORD, Personas, make_county_admin, make_personas

PG_ENV = "TEST_DATABASE_URL"
BACKENDS = ["sqlite", "postgresql"]


# --- network guard ---------------------------------------------------------------------------

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if isinstance(address, tuple):
        host = str(address[0])
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            raise RuntimeError(f"test tried to reach {host}: only loopback is allowed")
    return _real_connect(self, address)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> None:
    """Real argon2id with the cheapest parameters: personas hash six passwords per test, and
    the recommended parameters cost about 0.1 s each on this kind of machine."""
    use_parameters(profiles.CHEAPEST)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


# --- databases -------------------------------------------------------------------------------


def postgres_base_url() -> str | None:
    return os.environ.get(PG_ENV) or None


class PostgresDatabases:
    """Creates throwaway databases on the test server and drops them at the end."""

    def __init__(self, base_url: str) -> None:
        self.base = make_url(base_url).set(drivername="postgresql+psycopg")
        self.created: list[str] = []

    def _admin(self) -> Any:
        return create_engine(self.base, isolation_level="AUTOCOMMIT")

    def create(self) -> str:
        name = f"yc_test_{uuid.uuid4().hex[:12]}"
        engine = self._admin()
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created.append(name)
        return self.base.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        engine = self._admin()
        with engine.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases | None]:
    base = postgres_base_url()
    if base is None:
        yield None
        return
    databases = PostgresDatabases(base)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def migrated_templates(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresDatabases | None
) -> dict[str, str]:
    """One migrated database per backend, made once; tests get copies or cleaned tables."""
    folder = tmp_path_factory.mktemp("db-template")
    sqlite_url = f"sqlite:///{folder / 'template.db'}"
    migrate(sqlite_url)
    urls = {"sqlite": sqlite_url}
    if postgres is not None:
        urls["postgresql"] = postgres.create()
        migrate(urls["postgresql"])
    return urls


def _truncate_postgres(url: str) -> None:
    engine = create_engine(sync_url(url))
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, migrated_templates: dict[str, str], tmp_path: Path
) -> Iterator[str]:
    """A migrated, empty database: SQLite always, PostgreSQL when TEST_DATABASE_URL is set."""
    backend = request.param
    if backend == "postgresql":
        if "postgresql" not in migrated_templates:
            pytest.skip(f"{PG_ENV} is not set: PostgreSQL runs skipped")
        url = migrated_templates["postgresql"]
        _truncate_postgres(url)
        yield url
        return
    source = Path(make_url(migrated_templates["sqlite"]).database or "")
    target = tmp_path / "yichuang.db"
    shutil.copyfile(source, target)
    yield f"sqlite:///{target}"


# --- a node ----------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    data = tmp_path / "node"
    init_data_dir(
        data,
        role="township",
        region_code="990102101000",
        name="青山镇便民服务中心",
        parent_region_code="990102",
        parent_name="示范县",
    )
    loaded = load_settings(data)
    return dataclasses.replace(loaded, database_url=db_url)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Starlette]:
    """A node's app with its whole lifespan run (Litestar's inside Starlette's).

    The lifespan is owned by one task from start to end, since pytest may run a fixture's
    set-up and tear-down in different tasks.
    """
    application = create_app(settings)
    started, stop = asyncio.Event(), asyncio.Event()

    async def own_lifespan() -> None:
        async with application.router.lifespan_context(application):
            started.set()
            await stop.wait()

    task = asyncio.create_task(own_lifespan())
    await asyncio.wait_for(started.wait(), timeout=30)
    try:
        yield application
    finally:
        stop.set()
        await task


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    """The township node (青山镇, 990102101000)."""
    async with running(settings) as application:
        yield application


@pytest.fixture
async def county_app(settings: Settings) -> AsyncIterator[Starlette]:
    """The county node (示范县, 990102) on the same kind of database, with its admin
    (`county.admin`, PASSWORD) and its org unit."""
    county = dataclasses.replace(
        settings,
        role="county",
        region_code="990102",
        name="示范县政务服务中心",
        parent_region_code="",
        parent_name="",
    )
    async with running(county) as application:
        await make_county_admin(application)
        yield application


@pytest.fixture
async def personas(app: Starlette) -> Personas:
    return await make_personas(app)


def make_client(app: Starlette) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as http:
        yield http


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_of(client: httpx.AsyncClient, path: str = "/signin") -> str:
    """The CSRF token the server put into a page's forms for this client's session."""
    response = await client.get(path)
    found = CSRF_INPUT.search(response.text)
    assert found, f"no CSRF field on {path} (status {response.status_code})"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    token = await csrf_of(client)
    return await client.post(
        "/signin", data={"login": login, "password": password, "csrf_token": token, "next": "/"}
    )


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, str], page: str = "/"
) -> httpx.Response:
    """A form post as the browser sends it: with the CSRF token from a page of the session."""
    token = await csrf_of(client, page)
    return await client.post(path, data={**data, "csrf_token": token})


@asynccontextmanager
async def signed_in(
    app: Starlette, login: str, password: str = PASSWORD
) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a session of `login`, signed in through the real form."""
    async with make_client(app) as client:
        response = await sign_in(client, login, password)
        assert response.status_code == 303, f"{login} could not sign in: {response.status_code}"
        yield client
