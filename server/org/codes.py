"""Region codes (行政区划代码): six digits for a county (GB/T 2260), twelve for a township or a
village (the statistical division code: county 6 + township 3 + village 3).

A township's code ends in 000; a village's does not. A township may be given as its nine
significant digits and is padded to twelve.
"""

from __future__ import annotations

import re
from typing import Literal

Level = Literal["county", "township", "village"]
LEVELS: tuple[Level, ...] = ("county", "township", "village")
LEVEL_NAMES: dict[str, str] = {
    "county": "县（区）",
    "township": "乡镇（街道）",
    "village": "村（社区）",
}

_COUNTY = re.compile(r"^\d{6}$")
_TWELVE = re.compile(r"^\d{12}$")


class RegionCodeError(ValueError):
    """A region code that does not fit its level; the message is for the user."""


def normalise(code: str) -> str:
    """Strip spaces; pad a nine-digit township code to twelve."""
    code = code.strip()
    if re.fullmatch(r"\d{9}", code):
        code += "000"
    return code


def level_of(code: str) -> Level:
    """The level a well-formed code belongs to."""
    if _COUNTY.match(code):
        return "county"
    if _TWELVE.match(code):
        return "township" if code.endswith("000") else "village"
    raise RegionCodeError(f"区划代码 {code!r} 格式不对：县为 6 位数字，乡镇和村为 12 位数字")


def validate(code: str, level: Level, parent: str = "") -> str:
    """Return the normalised code, or raise with a message naming what is wrong."""
    code = normalise(code)
    actual = level_of(code)
    if actual != level:
        wanted = {
            "county": "6 位数字",
            "township": "12 位数字且以 000 结尾",
            "village": "12 位数字且最后 3 位不是 000",
        }[level]
        raise RegionCodeError(f"{LEVEL_NAMES[level]}的区划代码应为{wanted}，{code} 不符合")
    if level == "township" and code[6:9] == "000":
        raise RegionCodeError(f"乡镇区划代码 {code} 的第 7–9 位（乡镇码）不能是 000")
    if parent:
        if level == "township" and not code.startswith(parent):
            raise RegionCodeError(f"乡镇 {code} 不属于县 {parent}：前 6 位应为 {parent}")
        if level == "village" and code[:9] != parent[:9]:
            raise RegionCodeError(f"村 {code} 不属于乡镇 {parent}：前 9 位应为 {parent[:9]}")
    return code


def validate_node_region(role: str, code: str, parent: str = "") -> None:
    """A county node has a county code; a township node a township code under its parent."""
    if role == "county":
        validate(code, "county")
        if parent:
            raise RegionCodeError("县级节点目前没有上级：不要填写 parent_region_code")
    else:
        validate(code, "township", parent)
        if parent:
            validate(parent, "county")


def within(code: str, root: str) -> bool:
    """True when org unit `code` is `root` or lies below it."""
    if code == root:
        return True
    if level_of(root) == "county":
        return code.startswith(root)
    if level_of(root) == "township":
        return code[:9] == root[:9]
    return False
