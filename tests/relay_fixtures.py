"""Fixtures for tests with several nodes in one process: each node its own database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.db import migrate
from tests.conftest import PostgresDatabases, _truncate_postgres
from tests.relay_nodes import COUNTY, TOWNSHIP_A, TOWNSHIP_B, Node, nodes, sqlite_copy


@pytest.fixture(scope="session")
def extra_postgres(postgres: PostgresDatabases | None) -> Iterator[list[str]]:
    """Two more migrated PostgreSQL databases for the townships (none without PostgreSQL)."""
    if postgres is None:
        yield []
        return
    urls = [postgres.create() for _ in range(2)]
    for url in urls:
        migrate(url)
    yield urls


@pytest.fixture
async def linked(
    tmp_path: Path,
    db_url: str,
    migrated_templates: dict[str, str],
    extra_postgres: list[str],
) -> AsyncIterator[dict[str, Node]]:
    """The county and two townships, enrolled, on the backend of `db_url`."""
    if db_url.startswith("sqlite"):
        others = [
            sqlite_copy(migrated_templates["sqlite"], tmp_path / f"{name}.db") for name in "ab"
        ]
    else:
        others = extra_postgres
        for url in others:
            _truncate_postgres(url)
    urls = {COUNTY: db_url, TOWNSHIP_A: others[0], TOWNSHIP_B: others[1]}
    async with nodes(urls, tmp_path) as found:
        yield found
