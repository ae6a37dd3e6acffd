"""The public progress page (办件查询): the right serial and phone digits show the state and the
steps without personal data; every wrong combination gets one message; guesses are limited
per serial and per address; sign-in's own limits are untouched."""

from __future__ import annotations

import datetime as dt

import httpx
from starlette.applications import Starlette

from server.cases.models import CaseRecord
from server.cases.progress import WRONG
from server.cases.serials import compact_serial, make_serial
from tests.conftest import csrf_of, make_client, sign_in
from tests.factories import PASSWORD, TOWNSHIP, Personas
from tests.http.test_case_commands import apply
from tests.http.test_case_log import ID_NUMBER, PHONE, claim, open_case

LAST4 = PHONE[-4:]
LOCKED = "查询过于频繁"


def client_at(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def look_up(client: httpx.AsyncClient, serial: str, digits: str) -> httpx.Response:
    token = await csrf_of(client, "/progress")
    return await client.post(
        "/progress", data={"serial": serial, "phone_last4": digits, "csrf_token": token}
    )


def unknown_serial(sequence: int = 99_000) -> str:
    return make_serial(TOWNSHIP, dt.date(2026, 11, 16), sequence)


def assert_no_personal_data(page: str) -> None:
    for secret in ("王秀兰", ID_NUMBER, PHONE, "青山村三组"):
        assert secret not in page


async def new_case(app: Starlette, personas: Personas, **over: str) -> CaseRecord:
    await claim(app, personas)
    return await open_case(app, personas.township_officer, personas, **over)


async def test_the_form_is_public_and_takes_the_serial_from_the_qr_code(app: Starlette) -> None:
    serial = unknown_serial()
    async with make_client(app) as client:
        response = await client.get("/progress", params={"serial": serial})
    assert response.status_code == 200
    assert f'value="{serial}"' in response.text and 'name="csrf_token"' in response.text
    assert response.headers["cache-control"] == "no-store"


async def test_the_right_combination_shows_progress_without_personal_data(
    app: Starlette, personas: Personas
) -> None:
    clerk = personas.township_officer
    case = await new_case(app, personas)
    case = await apply(app, clerk, case, "accept")
    case = await apply(app, clerk, case, "start_review")
    async with make_client(app) as client:
        response = await look_up(client, case.serial, LAST4)
        assert response.status_code == 200, response.text
        page = response.text
        assert "测试事项" in page and "审查中" in page and "承诺件" in page
        assert "受理日期" in page and "2026-11-16" in page and "2026-11-26" in page  # due
        assert "<li>" in page and "提交" in page and "开始审查" in page
        assert response.headers["cache-control"] == "no-store"
        assert_no_personal_data(page)

        # Typed without hyphens: still the same case.
        loose = await look_up(client, compact_serial(case.serial), LAST4)
        assert loose.status_code == 200 and "审查中" in loose.text

        reasons = "王秀兰不符合条件"
        case = await apply(app, clerk, case, "decide", {"outcome": "deny", "reasons": reasons})
        denied = await look_up(client, case.serial, LAST4)
        assert "办结（不予）" in denied.text and "已办结" in denied.text
        assert reasons not in denied.text
        assert_no_personal_data(denied.text)


async def test_a_refusal_shows_only_that_it_was_refused(app: Starlette, personas: Personas) -> None:
    case = await new_case(app, personas)
    reasons = "申请人户籍不在本镇"
    case = await apply(app, personas.township_officer, case, "refuse", {"reasons": reasons})
    async with make_client(app) as client:
        response = await look_up(client, case.serial, LAST4)
    assert response.status_code == 200 and "不予受理" in response.text
    assert reasons not in response.text
    assert_no_personal_data(response.text)


async def test_every_wrong_combination_gets_the_same_message(
    app: Starlette, personas: Personas
) -> None:
    case = await new_case(app, personas)
    no_phone = await open_case(app, personas.township_officer, personas, applicant_phone="")
    async with make_client(app) as client:
        answers = [
            await look_up(client, case.serial, "0000"),
            await look_up(client, unknown_serial(), LAST4),
            await look_up(client, no_phone.serial, LAST4),
        ]
        for answer in answers:
            assert answer.status_code == 422
            assert WRONG in answer.text
            assert_no_personal_data(answer.text)
            assert answer.text.count('role="alert"') == 1  # that message and nothing else
            assert 'class="error"' not in answer.text

        # A mistyped serial is caught by its check digits before anything is looked up.
        digits = compact_serial(case.serial)
        at = next(i for i in range(9, 20) if digits[i] != digits[i + 1])
        swapped = digits[:at] + digits[at + 1] + digits[at] + digits[at + 2 :]
        typo = await look_up(client, swapped, LAST4)
        assert typo.status_code == 422 and "校验码不对" in typo.text and WRONG not in typo.text

        empty = await look_up(client, "", "")
        assert empty.status_code == 422
        assert "请填写流水号" in empty.text and "手机号的后四位" in empty.text


async def test_the_eleventh_try_on_a_serial_is_locked(app: Starlette, personas: Personas) -> None:
    case = await new_case(app, personas)
    for n in range(10):  # each from another address: only the serial's count adds up
        async with client_at(app, f"10.0.1.{n + 1}") as client:
            answer = await look_up(client, case.serial, f"{n:04d}")
            assert answer.status_code == 422 and WRONG in answer.text
    async with client_at(app, "10.0.1.99") as client:
        locked = await look_up(client, case.serial, LAST4)  # even the right digits
        assert locked.status_code == 429
        assert "查询过于频繁，请 15 分钟后再试" in locked.text
        other = await new_case(app, personas)
        assert (await look_up(client, other.serial, LAST4)).status_code == 200


async def test_the_eleventh_try_from_an_address_is_locked_and_sign_in_is_apart(
    app: Starlette, personas: Personas
) -> None:
    case = await new_case(app, personas)
    async with client_at(app, "10.0.2.7") as client:
        for n in range(10):
            answer = await look_up(client, unknown_serial(99_000 + n), LAST4)
            assert answer.status_code == 422 and WRONG in answer.text
        locked = await look_up(client, case.serial, LAST4)
        assert locked.status_code == 429 and LOCKED in locked.text
        # Sign-in counts on its own: the progress guesses do not lock the address out of it.
        signed = await sign_in(client, personas.township_officer.username, PASSWORD)
        assert signed.status_code == 303
    async with client_at(app, "10.0.2.8") as elsewhere:
        assert (await look_up(elsewhere, case.serial, LAST4)).status_code == 200
