"""Catalogue rules on save: codes, limits against the county's rule, kinds, materials."""

from __future__ import annotations

import pytest

from server.catalog.codes import implementation_code_problem, uscc_check_char, uscc_problem
from server.catalog.rules import MaterialDraft, item_problems
from server.policy.queries import Policy
from tests.factories import item_draft

FORTY = Policy(promise_rule="max_share", promise_percent=40)
THIRTY_SHORTER = Policy(promise_rule="min_reduction", promise_percent=30)


def test_a_valid_item_has_no_problems() -> None:
    assert item_problems(item_draft(), FORTY) == {}


def test_uscc_check_character() -> None:
    # The worked example printed in GB 32100-2015 itself.
    assert uscc_problem("91350100M000100Y43") is None
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert "校验位不对，应为 3" in (uscc_problem("91350100M000100Y44") or "")
    assert "18 位" in (uscc_problem("123") or "")


def test_implementation_code_is_body_level_and_basic_code() -> None:
    draft = item_draft()
    good = draft.implementation_code
    assert implementation_code_problem(good, basic_code=draft.basic_code, level="5") is None
    assert "第 19 位是行使层级，应为 4" in (
        implementation_code_problem(good, basic_code=draft.basic_code, level="4") or ""
    )
    assert "后 12 位应与基本编码" in (
        implementation_code_problem(good, basic_code="992000199000", level="5") or ""
    )
    assert "现为 30 位" in (
        implementation_code_problem(good[:-1], basic_code=draft.basic_code, level="5") or ""
    )


def test_promised_may_not_exceed_statutory() -> None:
    errors = item_problems(item_draft(statutory_limit=10, promised_limit=12), FORTY)
    assert errors["promised_limit"] == "承诺时限（12）不能超过法定时限（10）"


def test_county_rule_at_most_forty_percent_with_figures() -> None:
    errors = item_problems(item_draft(statutory_limit=20, promised_limit=9), FORTY)
    assert errors["promised_limit"] == (
        "按本县规定，承诺时限不得超过法定时限的 40%：法定 20，承诺最多 8，现填 9"
    )
    assert item_problems(item_draft(statutory_limit=20, promised_limit=8), FORTY) == {}


def test_county_rule_at_least_thirty_percent_shorter() -> None:
    assert item_problems(item_draft(statutory_limit=20, promised_limit=14), THIRTY_SHORTER) == {}
    errors = item_problems(item_draft(statutory_limit=20, promised_limit=15), THIRTY_SHORTER)
    assert "至少压缩 30%：法定 20，承诺最多 14，现填 15" in errors["promised_limit"]


def test_units_must_match_to_compare() -> None:
    errors = item_problems(item_draft(promised_limit=3, promised_unit="calendar_days"), FORTY)
    assert "同一单位" in errors["promised_unit"]


def test_joint_and_relayed_need_their_departments() -> None:
    joint = item_problems(item_draft(handling_kind="joint"), FORTY)
    assert joint["lead_department"] == "联办件必须填写牵头部门"
    assert "协办部门" in joint["co_departments"]
    relayed = item_problems(item_draft(handling_kind="relayed"), FORTY)
    assert "作出决定的县级部门" in relayed["decision_body"]
    ok = item_problems(
        item_draft(
            handling_kind="joint",
            lead_department="农业农村办",
            co_departments="自然资源所\n村镇建设办",
        ),
        FORTY,
    )
    assert ok == {}


def test_immediate_items_are_decided_on_the_spot() -> None:
    assert item_problems(item_draft(handling_kind="immediate", promised_limit=0), FORTY) == {}
    errors = item_problems(item_draft(handling_kind="immediate", promised_limit=2), FORTY)
    assert "即办件应当场办结" in errors["promised_limit"]
    hours = item_draft(handling_kind="immediate", promised_limit=1, promised_unit="working_hours")
    assert item_problems(hours, FORTY) == {}


@pytest.mark.parametrize(
    ("materials", "message"),
    [
        ([MaterialDraft(name="")], "第 1 项材料缺少名称"),
        ([MaterialDraft(name="申请书"), MaterialDraft(name="申请书")], "第 2 项材料“申请书”重复了"),
        ([MaterialDraft(name="居民身份证", gap_allowed=True)], "是身份证明，不能容缺受理"),
        ([MaterialDraft(name="照片", copies=50)], "份数请填 0–20"),
    ],
)
def test_material_problems(materials: list[MaterialDraft], message: str) -> None:
    assert message in item_problems(item_draft(materials=materials), FORTY)["materials"]


def test_codes_and_required_text() -> None:
    errors = item_problems(item_draft(basic_code="12ab", name=" ", implementing_body=""), FORTY)
    assert errors["basic_code"] == "基本编码应为 12 位数字"
    assert errors["name"] == "请填写事项名称"
    assert "实施主体" in errors["implementing_body"]
    fee = item_problems(item_draft(fee_charged=True, fee_basis=""), FORTY)
    assert fee["fee_basis"] == "收费事项必须写明收费依据"
