"""The phone checks an applicant as the window does: pwa/js/validate.js against
server/cases/identity.py, verdict for verdict and message for message, over the server's own
test cases (read from tests/unit/server/test_case_identity.py's parameters) and a few hundred
generated ones, with the same "today"."""

from __future__ import annotations

import random
import string
from typing import Any

from playwright.sync_api import Page

from server.cases.identity import (
    credit_code_warning,
    id_problem,
    mobile_problem,
    resident_id_check_char,
    resident_id_problem,
)
from server.templating import static_url
from tests.unit.server import test_case_identity as server_tests

from .conftest import TownshipServer

TODAY = server_tests.TODAY


def parameters(test: Any) -> list[Any]:
    """The values of a test's @pytest.mark.parametrize."""
    (mark,) = [m for m in test.pytestmark if m.name == "parametrize"]
    return list(mark.args[1])


def resident_ids() -> list[str]:
    numbers = [n for n, *_ in parameters(server_tests.test_valid_numbers_and_what_they_say)]
    numbers += parameters(
        server_tests.test_a_wrong_check_character_is_caught_without_giving_the_answer
    )
    numbers += [n for n, _ in parameters(server_tests.test_what_is_wrong_is_named)]
    births = [b for b, _ in parameters(server_tests.test_birth_dates)]
    numbers += [server_tests._with_check(f"110105{birth}001") for birth in births]
    numbers += [server_tests._with_check(f"{n:02d}010519491231002") for n in range(100)]
    numbers += [
        "440524188001010014",
        " 110105 19491231 002x ",
        "１１０１０５１９４９１２３１００２ｘ",
    ]
    rng = random.Random(11643)  # noqa: S311 (test data, reproducible on purpose)
    for _ in range(300):  # near misses: one character changed, dropped or added
        number = list(rng.choice(numbers[:5]).strip())
        at = rng.randrange(len(number))
        change = rng.choice(("swap", "drop", "add"))
        if change == "swap":
            number[at] = rng.choice(string.digits + "XxA ")
        elif change == "drop":
            del number[at]
        else:
            number.insert(at, rng.choice(string.digits))
        numbers.append("".join(number))
    return numbers


def documents() -> list[tuple[str, str]]:
    cases = [(t, v) for t, v, _ in parameters(server_tests.test_id_problem_by_type)]
    cases += [
        (t, "  ")
        for t, _ in parameters(server_tests.test_an_empty_number_is_an_error_naming_the_document)
    ]
    codes = ["91350100M000100Y43", "91350100m000100y43", "9135 0100 M000 100Y 43"]
    codes += ["91110000600037341L", "91350100M000100Y44", "91350100M000100X43", "91350100M0001"]
    cases += [("uscc", code) for code in codes]
    cases += [("driving_licence", "123"), ("passport", "ｅａ１２３４５６７")]
    return cases


def test_the_phone_says_what_the_window_says(page: Page, township_server: TownshipServer) -> None:
    page.goto(township_server.url("/offline"))
    ids = resident_ids()
    docs = documents()
    mobiles = [value for value, _ in parameters(server_tests.test_mobile_numbers)]
    mobiles += ["+8613800138000", "86 138 0013 8000", "1380013800０", "", " ", "861380013800"]
    firsts = [
        first for first, _ in parameters(server_tests.test_check_character_of_published_numbers)
    ]
    today = [TODAY.year, TODAY.month, TODAY.day]
    got = page.evaluate(
        """async ({url, ids, docs, mobiles, firsts, today}) => {
          const v = await import(url);
          return {
            ids: ids.map((n) => v.residentIdProblem(n, today)),
            docs: docs.map(([t, n]) => v.idProblem(t, n, today)),
            mobiles: mobiles.map((m) => v.mobileProblem(m)),
            checks: firsts.map((f) => v.residentIdCheckChar(f)),
            warnings: docs.map(([, n]) => v.creditCodeWarning(n)),
          };
        }""",
        {
            "url": static_url("js/validate.js"),
            "ids": ids,
            "docs": docs,
            "mobiles": mobiles,
            "firsts": firsts,
            "today": today,
        },
    )
    assert len(ids) > 400
    assert got["ids"] == [resident_id_problem(n, today=TODAY) for n in ids]
    assert got["docs"] == [list(id_problem(t, n, today=TODAY)) for t, n in docs]
    assert got["mobiles"] == [mobile_problem(m) for m in mobiles]
    assert got["checks"] == [resident_id_check_char(f) for f in firsts]
    assert got["warnings"] == [credit_code_warning(n) for _, n in docs]
