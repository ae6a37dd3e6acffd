from __future__ import annotations

import datetime as dt

import pytest

from server.cases.identity import (
    ID_TYPES,
    PROVINCE_CODES,
    birth_date_of,
    credit_code_warning,
    id_problem,
    mobile_problem,
    normalise_id_number,
    normalise_mobile,
    normalise_resident_id,
    resident_id_check_char,
    resident_id_problem,
    sex_of,
)

TODAY = dt.date(2026, 3, 1)
WRONG_CHECK = "身份证号码校验位不对，请对照身份证逐位核对"


def _with_check(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


# The two examples printed in GB 11643-1999 itself, checked by hand (weights
# 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, the sum mod 11 indexing "10X98765432"):
#   11010519491231002X  北京市朝阳区, born 1949-12-31, order 002 (even: woman)
#     7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2 -> "X"
#   440524188001010014  广东省汕头市潮阳县, born 1880-01-01, order 001 (odd: man)
#     28+36+0+25+16+16+2+8+48+0+0+9+0+5+0+0+2 = 195; 195 mod 11 = 8 -> "4"
# And samples from python-stdnum's tests of stdnum.cn.ric (tests/test_cn_ric.doctest):
#   360426199101010071  江西省德安县, 1991-01-01
#     21+54+0+20+16+24+2+9+54+3+0+9+0+5+0+0+14 = 231; 231 mod 11 = 0 -> "1"
#   44011320141005001x  广东省番禺区, 2014-10-05, written with a lowercase x
#     28+36+0+5+8+12+4+0+6+12+7+0+0+25+0+0+2 = 145; 145 mod 11 = 2 -> "X"
@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),
        ("44052418800101001", "4"),
        ("36042619910101007", "1"),
        ("44011320141005001", "X"),
    ],
)
def test_check_character_of_published_numbers(first17: str, check: str) -> None:
    assert resident_id_check_char(first17) == check


@pytest.mark.parametrize(
    ("number", "birth", "sex"),
    [
        ("11010519491231002X", dt.date(1949, 12, 31), "女"),
        ("360426199101010071", dt.date(1991, 1, 1), "男"),
        ("44011320141005001x", dt.date(2014, 10, 5), "男"),
        ("412723199010050012", dt.date(1990, 10, 5), "男"),  # python-stdnum, 河南省商水县
        ("120110198012010073", dt.date(1980, 12, 1), "男"),  # python-stdnum, 天津市
    ],
)
def test_valid_numbers_and_what_they_say(number: str, birth: dt.date, sex: str) -> None:
    assert resident_id_problem(number, today=TODAY) is None
    assert birth_date_of(number) == birth
    assert sex_of(number) == sex


def test_the_standards_own_1880_example_is_refused_for_its_date() -> None:
    # Its check character is right (see above), but nobody born in 1880 comes to the window.
    assert resident_id_problem("440524188001010014", today=TODAY) == (
        "身份证号码中的出生日期 1880-01-01 早于 1900 年，请核对第 7–14 位"
    )


def test_lowercase_x_spaces_and_full_width_are_normalised() -> None:
    assert normalise_resident_id(" 110105 19491231 002x ") == "11010519491231002X"
    assert normalise_resident_id("１１０１０５１９４９１２３１００２ｘ") == "11010519491231002X"
    assert resident_id_problem("11010519491231002x", today=TODAY) is None
    assert sex_of("11010519491231002x") == "女"


@pytest.mark.parametrize(
    "number",
    [
        "36042619910102009X",  # python-stdnum: wrong check character (should be 3)
        "110105194912310021",  # the GB example with 1 for X
        "11010519491231003X",  # one order digit mistyped
        "11010519491231020X",  # two neighbouring digits swapped
    ],
)
def test_a_wrong_check_character_is_caught_without_giving_the_answer(number: str) -> None:
    message = resident_id_problem(number, today=TODAY)
    assert message == WRONG_CHECK
    assert "应为" not in message


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", "请填写身份证号码"),
        ("1101051949123100", "身份证号码应为 18 位，现为 16 位"),
        ("11010519491231002X1", "身份证号码应为 18 位，现为 19 位"),
        ("110105491231002", "第一代身份证号码"),
        ("T60426199101010078", "身份证号码第 1 位应为数字，现为“T”"),  # python-stdnum
        ("1101051949I231002X", "身份证号码第 11 位应为数字，现为“I”"),
        ("X10105194912310021", "身份证号码第 1 位应为数字"),
        ("11010519491231002A", "身份证号码最后一位应为数字或 X，现为“A”"),
        ("990426199112010074", "前两位 99 不是有效的省份代码"),  # python-stdnum, valid check
        ("360426199113010079", "出生日期 1991-13-01 不存在"),  # python-stdnum
    ],
)
def test_what_is_wrong_is_named(number: str, message: str) -> None:
    assert message in (resident_id_problem(number, today=TODAY) or "")


@pytest.mark.parametrize(
    ("birth", "ok"),
    [
        ("20000229", True),  # 2000 is a leap year (divisible by 400)
        ("20240229", True),
        ("20230229", False),
        ("19000229", False),  # 1900 is not (divisible by 100, not by 400)
        ("19000101", True),
        ("18991231", False),
        ("19900230", False),
        ("19900431", False),
        ("19900001", False),
        ("19901200", False),
        ("20260301", True),  # born today
        ("20260302", False),  # born tomorrow
    ],
)
def test_birth_dates(birth: str, ok: bool) -> None:
    problem = resident_id_problem(_with_check(f"110105{birth}001"), today=TODAY)
    assert (problem is None) is ok, problem


def test_date_messages() -> None:
    shown = "身份证号码中的出生日期 1990-02-30 不存在，请核对第 7–14 位"
    assert resident_id_problem(_with_check("11010519900230001"), today=TODAY) == shown
    future = resident_id_problem(_with_check("11010520260302001"), today=TODAY)
    assert future == "身份证号码中的出生日期 2026-03-02 晚于今天，请核对第 7–14 位"
    # Without `today`, today's date in China is used.
    assert "晚于今天" in (resident_id_problem(_with_check("11010529990101001")) or "")


def test_every_province_code_and_only_those() -> None:
    listed = {
        *(f"{n}" for n in range(11, 16)),
        *(f"{n}" for n in range(21, 24)),
        *(f"{n}" for n in range(31, 38)),
        *(f"{n}" for n in range(41, 47)),
        *(f"{n}" for n in range(50, 55)),
        *(f"{n}" for n in range(61, 66)),
        "71",
        "81",
        "82",
        "91",
    }
    assert listed == PROVINCE_CODES
    for n in range(100):
        code = f"{n:02d}"
        problem = resident_id_problem(_with_check(f"{code}010519491231002"), today=TODAY)
        assert (problem is None) is (code in listed), code
        if code not in listed:
            assert problem == f"身份证号码前两位 {code} 不是有效的省份代码，请对照身份证核对"


def test_birth_date_and_sex_refuse_an_invalid_number() -> None:
    with pytest.raises(ValueError, match="应为 18 位"):
        birth_date_of("11010519491231002")
    with pytest.raises(ValueError, match="校验位不对"):
        sex_of("110105194912310021")


def test_sex_follows_the_seventeenth_digit() -> None:
    assert sex_of(_with_check("11010519491231001")) == "男"
    assert sex_of(_with_check("11010519491231002")) == "女"
    assert sex_of(_with_check("11010519491231009")) == "男"
    assert sex_of(_with_check("11010519491231000")) == "女"


# GB 32100-2015 prints 91350100M000100Y43 as its example. By hand, with the code alphabet
# 0-9 A-H J-N P-R T U W-Y (M = 21, Y = 30) and weights 3^i mod 31:
#   9*1 + 1*3 + 3*9 + 5*27 + 1*26 + 21*20 + 1*8 + 30*30 + 4*28 = 1640; 1640 mod 31 = 28;
#   31 - 28 = 3 -> "3".
def test_credit_code_is_only_ever_a_warning() -> None:
    warning = "统一社会信用代码校验未通过，请核对；如确认无误可继续"
    assert credit_code_warning("91350100M000100Y43") is None
    assert credit_code_warning("91350100m000100y43") is None
    assert credit_code_warning("9135 0100 M000 100Y 43") is None
    assert credit_code_warning("91110000600037341L") is None  # python-stdnum's sample
    assert credit_code_warning("91350100M000100Y44") == warning
    assert credit_code_warning("91350100M000100X43") == warning
    assert credit_code_warning("91350100M0001") == (
        "统一社会信用代码校验未通过（应为 18 位，现为 13 位），请核对；如确认无误可继续"
    )
    assert id_problem("uscc", "91350100M000100Y44") == (None, warning)
    assert id_problem("uscc", "91350100M000100Y43") == (None, None)
    assert id_problem("uscc", " ") == ("请填写统一社会信用代码", None)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("13800138000", None),
        ("138 0013 8000", None),
        ("138-0013-8000", None),
        ("+86 138 0013 8000", None),
        ("8613800138000", None),
        ("１３８００１３８０００", None),  # full-width digits from a Chinese input method
        ("19912345678", None),
        ("", "请填写手机号码"),
        ("1380013800", "手机号码应为 11 位数字，现为 10 位，请核对"),
        ("138001380000", "手机号码应为 11 位数字，现为 12 位，请核对"),
        ("12345678901", "手机号码应以 13–19 开头，例如 13800138000，请核对"),
        ("23800138000", "手机号码应以 13–19 开头，例如 13800138000，请核对"),
        ("138O0138000", "手机号码只能包含数字，请去掉其他字符"),
        ("(0591)12345678", "手机号码只能包含数字，请去掉其他字符"),
    ],
)
def test_mobile_numbers(value: str, problem: str | None) -> None:
    assert mobile_problem(value) == problem


def test_mobile_normalising() -> None:
    assert normalise_mobile(" +86 138-0013-8000 ") == "13800138000"
    assert normalise_mobile("１３８００１３８０００") == "13800138000"


def test_id_types() -> None:
    assert set(ID_TYPES) == {"resident_id", "hk_macao_permit", "taiwan_permit", "passport", "uscc"}
    assert id_problem("driving_licence", "123") == ("请选择证件类型", None)


@pytest.mark.parametrize(
    ("id_type", "value", "ok"),
    [
        ("resident_id", "11010519491231002X", True),
        ("resident_id", "11010519491231002x", True),
        ("resident_id", "110105194912310021", False),
        ("hk_macao_permit", "H12345678", True),
        ("hk_macao_permit", "M1234567890", True),
        ("hk_macao_permit", "h 1234 5678", True),
        ("hk_macao_permit", "H1234567", False),
        ("hk_macao_permit", "H123456789", False),
        ("hk_macao_permit", "C12345678", False),
        ("hk_macao_permit", "12345678", False),
        ("taiwan_permit", "12345678", True),
        ("taiwan_permit", "1234567890", True),
        ("taiwan_permit", "1234567", False),
        ("taiwan_permit", "123456789", False),
        ("taiwan_permit", "1234-5678", False),
        ("passport", "E12345678", True),
        ("passport", "ea1234567", True),
        ("passport", "12345", True),
        ("passport", "1234", False),
        ("passport", "A" * 18, False),
        ("passport", "E1234567-8", False),
    ],
)
def test_id_problem_by_type(id_type: str, value: str, ok: bool) -> None:
    error, warning = id_problem(id_type, value, today=TODAY)
    assert (error is None) is ok, error
    assert warning is None


@pytest.mark.parametrize(
    ("id_type", "message"),
    [
        ("resident_id", "请填写身份证号码"),
        ("hk_macao_permit", "请填写港澳居民来往内地通行证号码"),
        ("taiwan_permit", "请填写台湾居民来往大陆通行证号码"),
        ("passport", "请填写护照号码"),
    ],
)
def test_an_empty_number_is_an_error_naming_the_document(id_type: str, message: str) -> None:
    assert id_problem(id_type, "  ") == (message, None)


def test_document_messages_name_the_field_and_the_fix() -> None:
    assert id_problem("hk_macao_permit", "C12345678")[0] == (
        "港澳居民来往内地通行证号码应为 H 或 M 开头、后接 8 位或 10 位数字，请对照证件核对"
    )
    assert "台湾居民来往大陆通行证号码" in (id_problem("taiwan_permit", "1")[0] or "")
    assert id_problem("passport", "1")[0] == "护照号码应为 5–17 位字母或数字，请对照护照核对"


def test_normalise_id_number() -> None:
    assert normalise_id_number(" h1234\u30005678 ") == "H12345678"
    assert normalise_id_number("ｅａ１２３４５６７") == "EA1234567"
