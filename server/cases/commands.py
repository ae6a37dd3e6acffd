"""What each command must carry, checked before anything is written; messages in Chinese."""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.attachments.media import MAX_BYTES, MEDIA_TYPES
from server.cases.machine import Command

DELIVERY_METHODS: dict[str, str] = {
    "window": "窗口领取",
    "post": "邮寄送达",
    "electronic": "电子送达",
}
OUTCOMES: dict[str, str] = {"approve": "准予", "deny": "不予"}


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def _names(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list):
        return []
    return [item.strip() for item in value if isinstance(item, str) and item.strip()]


def command_problems(command: Command, body: dict[str, Any], today: dt.date) -> dict[str, str]:
    """Every problem with the command's data, by field; empty when it may be applied."""
    errors: dict[str, str] = {}
    if command == "refuse" and not _text(body, "reasons"):
        errors["reasons"] = "不予受理必须写明理由，并告知申请人依法享有的权利"
    if command == "notify_missing" and not _names(body, "missing"):
        errors["missing"] = "一次性告知须列出全部缺少或不符合要求的材料，至少一项"
    if command == "accept_with_gaps":
        if not _names(body, "gaps"):
            errors["gaps"] = "容缺受理须列出容缺的材料，至少一项"
        try:
            due = dt.date.fromisoformat(_text(body, "commit_by"))
        except ValueError:
            errors["commit_by"] = "请填写申请人承诺补齐材料的日期，例如 2026-12-01"
        else:
            if due < today:
                errors["commit_by"] = "承诺补齐的日期不能早于今天"
    if command == "decide" or command == "county_decide":
        outcome = _text(body, "outcome")
        if outcome not in OUTCOMES:
            errors["outcome"] = "请选择办理结果：准予或不予"
        elif outcome == "deny" and not _text(body, "reasons"):
            errors["reasons"] = "不予许可（办理）必须写明理由，并告知申请复议或提起诉讼的权利"
    if command == "extend":
        if not _text(body, "reason"):
            errors["reason"] = "延期须写明理由，理由将告知申请人"
        days = body.get("days")
        if not isinstance(days, int) or not 1 <= days <= 60:
            errors["days"] = "延长的工作日数请填 1–60 的整数"
    if command == "suspend" and not _text(body, "reason"):
        errors["reason"] = "中止须写明原因（如需要听证、检验、鉴定等特别程序）"
    if command == "deliver":
        method = _text(body, "method")
        if method not in DELIVERY_METHODS:
            errors["method"] = "请选择送达方式：窗口领取、邮寄送达或电子送达"
        elif method == "post" and not _text(body, "ems_number"):
            errors["ems_number"] = "邮寄送达请填写 EMS 邮件号"
    if command == "attach":
        errors.update(_attach_problems(body))
    if command == "rate":
        score = body.get("score")
        if not isinstance(score, int) or not 1 <= score <= 5:
            errors["score"] = "请选择评价：非常满意、满意、基本满意、不满意、非常不满意"
    return errors


def _attach_problems(body: dict[str, Any]) -> dict[str, str]:
    """An `attach` body as `do_attach_scan` writes it: the material and the stored file."""
    errors: dict[str, str] = {}
    material = _text(body, "material")
    if not 1 <= len(material) <= 100:
        errors["material"] = "请选择扫描件对应的材料"
    sha256, size = body.get("sha256"), body.get("size")
    if (
        not isinstance(sha256, str)
        or len(sha256) != 64
        or sha256.strip("0123456789abcdef")
        or not _text(body, "name")
        or body.get("media_type") not in MEDIA_TYPES
        or not isinstance(size, int)
        or not 1 <= size <= MAX_BYTES
    ):
        errors["file"] = "扫描件的信息不完整，请重新上传"
    return errors
