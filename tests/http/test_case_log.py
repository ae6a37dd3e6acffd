"""Opening a case at intake: serial numbers, the first event of the chain, personal data
encrypted at rest, access, and `yichuang verify` finding an edited event."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlmodel import col, select
from starlette.applications import Starlette

from server.attachments.actions import do_attach_scan
from server.auth.access import NotFound
from server.auth.models import User
from server.cases.access import access_case_by_id
from server.cases.actions import Intake
from server.cases.events import events_of, open_body, verify_cases
from server.cases.models import CaseEvent, CaseRecord
from server.cases.serials import parse_serial
from server.catalog.actions import do_set_claims
from server.forms import ValidationFailed
from server.settings import Settings
from tests.factories import OTHER_TOWNSHIP, Personas, make_user, open_intake
from tests.scan_files import tiny_jpeg, tiny_png

ID_NUMBER = "11010519491231002X"  # the example printed in GB 11643-1999
PHONE = "13912345678"


async def claim(app: Starlette, personas: Personas) -> None:
    assert personas.item is not None and personas.item.id is not None
    async with app.state.db.session() as session:
        await do_set_claims(session=session, actor=personas.admin, item_ids={personas.item.id})


async def open_case(app: Starlette, actor: User, personas: Personas, **over: str) -> CaseRecord:
    assert personas.item is not None and personas.item.id is not None
    intake = Intake(
        item_id=personas.item.id,
        channel=over.get("channel", "window"),
        applicant_name="王秀兰",
        applicant_id_type="resident_id",
        applicant_id=over.get("applicant_id", ID_NUMBER),
        applicant_phone=over.get("applicant_phone", PHONE),
        applicant_address="青山镇青山村三组 12 号",
    )
    return await open_intake(app, actor, intake)


async def test_opening_a_case_writes_the_first_event(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    first = await open_case(app, personas.township_officer, personas)
    second = await open_case(app, personas.township_officer, personas)
    one, two = parse_serial(first.serial), parse_serial(second.serial)
    assert one is not None and two is not None
    assert one.township_code == "990102101000" and two.sequence == one.sequence + 1
    assert first.state == "submitted" and first.kind == "promised" and first.item_version == 1
    assert first.first_responsible_id == personas.township_officer.id
    async with app.state.db.session() as session:
        events = await events_of(session, first.id)
    assert [(e.seq, e.kind) for e in events] == [(1, "submit")]
    body = open_body(app.state.cipher, events[0])
    assert body["applicant"]["id"] == ID_NUMBER and body["serial"] == first.serial
    assert events[0].actor == f"990102101000/{personas.township_officer.id}"


async def test_bad_intake_names_the_fields(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    with pytest.raises(ValidationFailed) as refused:
        await open_case(
            app,
            personas.township_officer,
            personas,
            applicant_id="110105194912310021",
            applicant_phone="1234",
        )
    assert "校验" in refused.value.errors["applicant_id"]
    assert "applicant_phone" in refused.value.errors


async def test_an_unclaimed_item_cannot_be_taken(app: Starlette, personas: Personas) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await open_case(app, personas.township_officer, personas)
    assert "本中心没有认领这个事项" in refused.value.errors["item_id"]


async def test_personal_data_is_not_in_the_database_file(
    app: Starlette, personas: Personas, settings: Settings
) -> None:
    if not settings.effective_database_url.startswith("sqlite"):
        pytest.skip("the raw-file check reads the SQLite file")
    await claim(app, personas)
    case = await open_case(app, personas.township_officer, personas)
    marker = b"SCAN-OF-ID-CARD-7f3a9c"  # inside the scans, nowhere else
    async with app.state.db.session() as session:
        for data in (tiny_png(marker), tiny_jpeg(marker)):
            await do_attach_scan(
                session=session,
                cipher=app.state.cipher,
                settings=settings,
                actor=personas.township_officer,
                case=case,
                material="居民身份证",
                file_name="身份证.png",
                data=data,
            )
    folder = Path(settings.effective_database_url.removeprefix("sqlite:///")).parent
    with_wal = b"".join(path.read_bytes() for path in folder.glob("yichuang.db*"))
    assert marker not in with_wal and b"JFIF" not in with_wal  # the WAL, before a checkpoint
    await app.state.db.dispose()  # flush the WAL into the file we read
    raw = b"".join(path.read_bytes() for path in folder.glob("yichuang.db*"))
    assert ID_NUMBER.encode() not in raw and PHONE.encode() not in raw
    assert marker not in raw and b"IHDR" not in raw and b"JFIF" not in raw
    assert "青山村三组".encode() not in raw
    assert "王秀兰".encode() in raw  # the name is kept in clear for search (DESIGN.md §6)


async def test_who_may_open_the_case(app: Starlette, personas: Personas) -> None:
    await claim(app, personas)
    by_agent = await open_case(app, personas.village_clerk, personas, channel="village_agent")
    by_clerk = await open_case(app, personas.township_officer, personas)
    stranger = await make_user(app, username="baishui.c", org_unit_code=OTHER_TOWNSHIP)
    other_agent = await make_user(
        app, username="agent.two", role="village_agent", org_unit_code="990102101202"
    )
    async with app.state.db.session() as session:
        assert (await access_case_by_id(session, personas.village_clerk, by_agent.id)).id
        assert (await access_case_by_id(session, personas.township_officer, by_agent.id)).id
        for outsider, case in (
            (personas.village_clerk, by_clerk),
            (stranger, by_clerk),
            (other_agent, by_agent),
        ):
            with pytest.raises(NotFound):
                await access_case_by_id(session, outsider, case.id)


async def test_verify_finds_an_edited_event(
    app: Starlette, personas: Personas, settings: Settings
) -> None:
    await claim(app, personas)
    good = await open_case(app, personas.township_officer, personas)
    bad = await open_case(app, personas.township_officer, personas)
    async with app.state.db.session() as session:
        assert await verify_cases(session, app.state.cipher) == (2, [])
        # Someone with database access rewrites the second case's first event.
        await session.exec(
            update(CaseEvent).where(col(CaseEvent.case_id) == bad.id).values(kind="refuse")
        )
        await session.commit()
        checked, broken = await verify_cases(session, app.state.cipher)
    assert checked == 2 and [b.case for b in broken] == [bad.id]
    assert broken[0].seq == 1 and "does not match its hash" in broken[0].reason
    assert good.id not in {b.case for b in broken}
    await app.state.db.dispose()
    result = subprocess.run(
        [sys.executable, "-m", "server", "--data", str(settings.data_dir), "verify"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "DATABASE_URL": settings.effective_database_url},
    )
    assert result.returncode == 2, result.stderr
    assert f"办件 {bad.serial}：第 1 个事件有问题" in result.stdout
    assert good.serial not in result.stdout


async def test_events_are_never_rewritten_by_the_code(app: Starlette, personas: Personas) -> None:
    """Opening more cases leaves earlier events byte for byte as they were."""
    await claim(app, personas)
    first = await open_case(app, personas.township_officer, personas)
    async with app.state.db.session() as session:
        before = (await session.exec(select(CaseEvent.hash, CaseEvent.body_enc))).all()
    await open_case(app, personas.township_officer, personas)
    async with app.state.db.session() as session:
        after = (
            await session.exec(
                select(CaseEvent.hash, CaseEvent.body_enc).where(CaseEvent.case_id == first.id)
            )
        ).all()
        count = (await session.exec(text("SELECT count(*) FROM case_event"))).one()
    assert list(after) == list(before) and count[0] == 2
