"""GET /api/health: is this node up and can it reach its database? Public, no personal data."""

from __future__ import annotations

from typing import Literal

from litestar import Request, get
from pydantic import BaseModel
from sqlalchemy import text

import server
from server.db import Database
from server.settings import Settings


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    role: Literal["county", "township"]
    region_code: str
    name: str
    database: Literal["ok", "error"]


@get("/health", summary="节点状态", tags=["node"])
async def health(request: Request) -> Health:  # type: ignore[type-arg]
    settings: Settings = request.app.state.settings
    db: Database = request.app.state.db
    try:
        async with db.session() as session:
            connection = await session.connection()
            await connection.execute(text("SELECT 1"))
        database: Literal["ok", "error"] = "ok"
    except Exception:  # any failure to reach the database is reported, not raised
        database = "error"
    return Health(
        status="ok" if database == "ok" else "degraded",
        version=server.__version__,
        role=settings.role,
        region_code=settings.region_code,
        name=settings.name,
        database=database,
    )
