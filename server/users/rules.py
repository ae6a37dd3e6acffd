"""What a valid account looks like: user names, phones, roles at the right level."""

from __future__ import annotations

import re

from server.auth.models import ROLE_LEVELS, ROLE_NAMES
from server.org.codes import LEVEL_NAMES

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalise_phone(value: str) -> str:
    """Digits only; a leading +86 or 86 dropped."""
    digits = re.sub(r"[\s-]", "", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def username_problem(username: str) -> str | None:
    if not USERNAME.match(username):
        return "用户名请用 3–32 位小写字母、数字、点、下划线或连字符，并以字母或数字开头"
    return None


def phone_problem(phone: str) -> str | None:
    if phone and not MOBILE.match(phone):
        return "手机号码应为 11 位数字，以 1 开头，例如 13800138000"
    return None


def role_problem(role: str, level: str) -> str | None:
    if role not in ROLE_NAMES:
        return "请选择一个角色"
    if level not in ROLE_LEVELS[role]:
        allowed = "、".join(LEVEL_NAMES[lv] for lv in ROLE_LEVELS[role])
        return f"{ROLE_NAMES[role]}只能属于{allowed}，请换一个所属单位或角色"
    return None
