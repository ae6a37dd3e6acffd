"""Item codes: the 12-digit basic code and the 31-character implementation code.

An implementation code is the implementing body's unified social credit code (GB 32100,
18 characters with its check character), the level of exercise (4 county, 5 township,
6 village) and the item's basic code.
"""

from __future__ import annotations

import re

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_BASIC = re.compile(r"^\d{12}$")
_USCC = re.compile(rf"^[{USCC_ALPHABET}]{{18}}$")


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """GB 32100: 18 characters from the code alphabet, the last one a check character."""
    if not _USCC.match(code):
        return "统一社会信用代码应为 18 位数字或大写字母（不含 I、O、Z、S、V）"
    if uscc_check_char(code[:17]) != code[17]:
        return f"统一社会信用代码 {code} 的校验位不对，应为 {uscc_check_char(code[:17])}"
    return None


def basic_code_problem(code: str) -> str | None:
    if not _BASIC.match(code):
        return "基本编码应为 12 位数字"
    return None


def implementation_code_problem(code: str, *, basic_code: str, level: str) -> str | None:
    if len(code) != 31:
        return (
            "实施编码应为 31 位（实施主体统一社会信用代码 18 位 + 行使层级 1 位"
            f" + 基本编码 12 位），现为 {len(code)} 位"
        )
    if problem := uscc_problem(code[:18]):
        return f"实施编码前 18 位：{problem}"
    if code[18] != level:
        return f"实施编码第 19 位是行使层级，应为 {level}，现为 {code[18]}"
    if code[19:] != basic_code:
        return f"实施编码后 12 位应与基本编码 {basic_code} 一致"
    return None
