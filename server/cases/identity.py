"""Applicants' ID documents (证件) and mobile numbers: what a plausible number looks like.

Pure functions, no database. Each check gives ``None`` or one message in Chinese that names the
field and says what to do. Numbers are compared and stored in their normalised form
(``normalise_id_number``): full-width characters made half-width (a Chinese input method in
full-width mode types ``１１０``), white space removed, letters upper-cased.

- 居民身份证号码, GB 11643-1999《公民身份号码》: 6 digits of address (the first two a province
  code), 8 of birth date (YYYYMMDD), 3 of order (odd for men, even for women), then a check
  character, ISO 7064 MOD 11-2: the weighted sum of the 17 digits (weights 2^(17-i) mod 11:
  7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) modulo 11 indexes "10X98765432". Message order follows
  what helps a clerk most: a named part that is impossible (province, date) before the check
  character, which only says that something is mistyped. The message for a wrong check
  character never gives the right one: the clerk should read the card again.
- 统一社会信用代码, GB 32100-2015: ``server.catalog.codes.uscc_problem`` decides; for an
  applicant a failure is only a warning (older bodies still carry older codes).
- Mainland travel permits and passports carry no public check character: only length and
  characters are checked.
- Mobile numbers: ``server.users.rules`` (``normalise_phone``, ``MOBILE``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Literal

from server.calendar.rules import LOCAL_TZ
from server.catalog.codes import uscc_problem
from server.users.rules import MOBILE, normalise_phone

ID_TYPES: dict[str, str] = {
    "resident_id": "居民身份证",
    "hk_macao_permit": "港澳居民来往内地通行证",
    "taiwan_permit": "台湾居民来往大陆通行证",
    "passport": "护照",
    "uscc": "统一社会信用代码",
}
# How each type's number is called in a message.
_NUMBER_NAMES: dict[str, str] = {
    "resident_id": "身份证号码",
    "hk_macao_permit": "港澳居民来往内地通行证号码",
    "taiwan_permit": "台湾居民来往大陆通行证号码",
    "passport": "护照号码",
    "uscc": "统一社会信用代码",
}

RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK = "10X98765432"
# GB/T 2260 province-level codes; 71 Taiwan, 81 Hong Kong, 82 Macao.
PROVINCE_CODES = frozenset(
    str(code)
    for span in (
        range(11, 16),
        range(21, 24),
        range(31, 38),
        range(41, 47),
        range(50, 55),
        range(61, 66),
        (71, 81, 82, 91),
    )
    for code in span
)
EARLIEST_BIRTH_YEAR = 1900
_DIGITS = "0123456789"

# Permits and passports: the pattern, and what to say when it does not fit.
_DOCUMENT_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "hk_macao_permit": (
        re.compile(r"[HM](?:[0-9]{8}|[0-9]{10})"),
        "港澳居民来往内地通行证号码应为 H 或 M 开头、后接 8 位或 10 位数字，请对照证件核对",
    ),
    "taiwan_permit": (
        re.compile(r"[0-9]{8}|[0-9A-Z]{10}"),
        "台湾居民来往大陆通行证号码应为 8 位数字（或 10 位字母和数字），请对照证件核对",
    ),
    "passport": (
        re.compile(r"[0-9A-Z]{5,17}"),
        "护照号码应为 5–17 位字母或数字，请对照护照核对",
    ),
}


def _today() -> dt.date:
    return dt.datetime.now(LOCAL_TZ).date()


def normalise_id_number(value: str) -> str:
    """Half-width, no white space, upper case: the form every ID number is checked and kept in."""
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def normalise_resident_id(value: str) -> str:
    """A resident ID number without spaces, its lowercase x made X."""
    return normalise_id_number(value)


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character (ISO 7064 MOD 11-2) of the first 17 digits."""
    total = sum(int(ch) * w for ch, w in zip(first17, RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK[total % 11]


def _birth_date(number: str) -> dt.date | None:
    try:
        return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def resident_id_problem(value: str, *, today: dt.date | None = None) -> str | None:
    """What is wrong with a resident ID number (GB 11643-1999), or None."""
    number = normalise_resident_id(value)
    if not number:
        return "请填写身份证号码"
    if len(number) != 18:
        if len(number) == 15 and all(ch in _DIGITS for ch in number):
            return (
                "身份证号码应为 18 位，现为 15 位（15 位的是第一代身份证号码，请按现行身份证填写）"
            )
        return f"身份证号码应为 18 位，现为 {len(number)} 位"
    for position, ch in enumerate(number[:17], start=1):
        if ch not in _DIGITS:
            return f"身份证号码第 {position} 位应为数字，现为“{ch}”，请核对"
    if number[17] not in _DIGITS + "X":
        return f"身份证号码最后一位应为数字或 X，现为“{number[17]}”，请核对"
    if number[:2] not in PROVINCE_CODES:
        return f"身份证号码前两位 {number[:2]} 不是有效的省份代码，请对照身份证核对"
    shown = f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
    birth = _birth_date(number)
    if birth is None:
        return f"身份证号码中的出生日期 {shown} 不存在，请核对第 7–14 位"
    if birth.year < EARLIEST_BIRTH_YEAR:
        return f"身份证号码中的出生日期 {shown} 早于 {EARLIEST_BIRTH_YEAR} 年，请核对第 7–14 位"
    if birth > (today or _today()):
        return f"身份证号码中的出生日期 {shown} 晚于今天，请核对第 7–14 位"
    if resident_id_check_char(number[:17]) != number[17]:
        return "身份证号码校验位不对，请对照身份证逐位核对"
    return None


def _valid_resident_id(value: str) -> str:
    number = normalise_resident_id(value)
    if problem := resident_id_problem(number):
        raise ValueError(problem)
    return number


def birth_date_of(resident_id: str) -> dt.date:
    """The holder's birth date; ValueError (with the Chinese message) for an invalid number."""
    number = _valid_resident_id(resident_id)
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def sex_of(resident_id: str) -> Literal["男", "女"]:
    """The holder's sex from the 17th digit (odd: 男); ValueError for an invalid number."""
    number = _valid_resident_id(resident_id)
    return "男" if int(number[16]) % 2 else "女"


def credit_code_warning(value: str) -> str | None:
    """A warning (never an error) when a unified social credit code fails GB 32100."""
    code = normalise_id_number(value)
    if uscc_problem(code) is None:
        return None
    length = f"（应为 18 位，现为 {len(code)} 位）" if code and len(code) != 18 else ""
    return f"统一社会信用代码校验未通过{length}，请核对；如确认无误可继续"


def normalise_mobile(value: str) -> str:
    """Half-width digits without spaces, dashes or a +86 / 86 prefix."""
    return normalise_phone(unicodedata.normalize("NFKC", value).strip())


def mobile_problem(value: str) -> str | None:
    """What is wrong with a mainland mobile number, or None. An empty value is a problem."""
    number = normalise_mobile(value)
    if not number:
        return "请填写手机号码"
    if not all(ch in _DIGITS for ch in number):
        return "手机号码只能包含数字，请去掉其他字符"
    if len(number) != 11:
        return f"手机号码应为 11 位数字，现为 {len(number)} 位，请核对"
    if not MOBILE.match(number):
        return "手机号码应以 13–19 开头，例如 13800138000，请核对"
    return None


def id_problem(
    id_type: str, value: str, *, today: dt.date | None = None
) -> tuple[str | None, str | None]:
    """(error, warning) for an ID document number of the given type (a key of ``ID_TYPES``)."""
    if id_type not in ID_TYPES:
        return "请选择证件类型", None
    number = normalise_id_number(value)
    if not number:
        return f"请填写{_NUMBER_NAMES[id_type]}", None
    if id_type == "resident_id":
        return resident_id_problem(number, today=today), None
    if id_type == "uscc":
        return None, credit_code_warning(number)
    pattern, message = _DOCUMENT_RULES[id_type]
    return (None if pattern.fullmatch(number) else message), None
