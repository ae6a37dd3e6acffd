"""The migrations build exactly the models, on SQLite and PostgreSQL, and go down again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from server.db import alembic_config, install_sqlite_pragmas, migrate, sync_url
from server.models import metadata
from tests.conftest import PostgresDatabases


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresDatabases | None
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    elif postgres is None:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL runs skipped")
    else:
        yield postgres.create()


def _differences(url: str) -> list[object]:
    engine = create_engine(sync_url(url))
    install_sqlite_pragmas(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        found = compare_metadata(context, metadata)
    engine.dispose()
    return list(found)


def test_upgrade_head_matches_the_models(empty_url: str) -> None:
    migrate(empty_url)
    assert _differences(empty_url) == []
    migrate(empty_url)  # a second start is a no-op


def test_downgrade_to_base_and_up_again(empty_url: str) -> None:
    config = alembic_config(empty_url)
    migrate(empty_url)
    command.downgrade(config, "base")
    engine = create_engine(sync_url(empty_url))
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    migrate(empty_url)
    assert _differences(empty_url) == []


def test_one_head_and_dated_revision_files() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        assert revision.path is not None
        name = Path(revision.path).name
        assert name[:8].isdigit(), f"{name}: revision files start with the date"
        assert "import server" not in Path(revision.path).read_text()
