"""The demo: a township's demo load gives a few dozen cases across kinds and states, with
deadlines that have run, every chain intact, and loading twice adds nothing."""

from __future__ import annotations

from collections import Counter

from sqlmodel import select
from starlette.applications import Starlette

from server.cases.events import verify_cases
from server.cases.identity import id_problem
from server.cases.models import CaseRecord
from server.db import utcnow
from server.demo import load_demo


async def test_demo_cases(app: Starlette) -> None:
    db, cipher, settings = app.state.db, app.state.cipher, app.state.settings
    async with db.session() as session:
        await load_demo(session, cipher, settings)
        await load_demo(session, cipher, settings)  # idempotent
        cases = list((await session.exec(select(CaseRecord))).all())
        checked, broken = await verify_cases(session, cipher)
    kinds = Counter(case.kind for case in cases)
    states = Counter(case.state for case in cases)
    assert len(cases) == 36 and checked == 36 and broken == []
    assert set(kinds) == {"immediate", "promised", "joint", "relayed"}
    assert {
        "submitted",
        "awaiting_materials",
        "accepted",
        "in_review",
        "decided",
        "delivered",
        "refused",
        "joint_in_progress",
        "ready_to_relay",
        "relayed",
    } <= set(states)
    assert len({case.serial for case in cases}) == 36
    open_cases = [c for c in cases if c.state in ("accepted", "in_review") and c.due_at]
    now = utcnow()
    assert any(c.due_at is not None and c.due_at < now for c in open_cases)  # overdue: red
    assert any(c.due_at is not None and c.due_at > now for c in open_cases)  # still on time
    for case in cases:
        number = cipher.decrypt(case.applicant_id_enc, context="case_record.applicant_id")
        assert id_problem("resident_id", number) == (None, None)
