"""What a valid catalogue item looks like; every check says, in Chinese, what to fix.

The same `ItemDraft` comes from the edit form, from an imported spreadsheet row and from the
demo data, so the rules are written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from server.calendar.rules import UNIT_NAMES
from server.catalog.codes import basic_code_problem, implementation_code_problem
from server.catalog.models import HANDLING_KINDS, ITEM_TYPES, LEVELS, RESULT_TYPES
from server.policy.queries import Policy


@dataclass
class MaterialDraft:
    name: str
    issuer: str = ""
    originals: int = 0
    copies: int = 0
    required: bool = True
    gap_allowed: bool = False
    note: str = ""
    sample: str = ""


@dataclass
class ItemDraft:
    basic_code: str
    implementation_code: str
    name: str
    item_type: str
    level: str
    implementing_body: str
    department: str = ""
    legal_basis: str = ""
    conditions: str = ""
    process: str = ""
    handling_kind: str = "promised"
    lead_department: str = ""
    co_departments: str = ""
    decision_body: str = ""
    statutory_limit: int = 0
    statutory_unit: str = "working_days"
    promised_limit: int = 0
    promised_unit: str = "working_days"
    fee_charged: bool = False
    fee_standard: str = "不收费"
    fee_basis: str = ""
    result_name: str = ""
    result_type: str = "other"
    visits_required: int = 1
    online_depth: int = 1
    appointment: bool = False
    post_delivery: bool = False
    online_application: bool = False
    place_and_time: str = ""
    enquiry_phone: str = ""
    complaint_phone: str = ""
    materials: list[MaterialDraft] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemDraft:
        """From plain data (demo items, JSON); unknown keys are ignored."""
        names = {f.name for f in fields(cls)} - {"materials"}
        materials = [MaterialDraft(**m) for m in data.get("materials", [])]
        return cls(**{k: v for k, v in data.items() if k in names}, materials=materials)

    def content(self) -> dict[str, Any]:
        """The version's columns (everything but the codes and the materials)."""
        skip = {"basic_code", "implementation_code", "materials"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


TEXT_LIMITS = {
    "name": ("事项名称", 200),
    "implementing_body": ("实施主体", 100),
    "department": ("承办机构", 100),
    "lead_department": ("牵头部门", 100),
    "decision_body": ("审批（决定）机关", 100),
    "result_name": ("办理结果名称", 200),
    "place_and_time": ("办理地点和时间", 500),
    "enquiry_phone": ("咨询电话", 50),
    "complaint_phone": ("投诉电话", 50),
    "fee_standard": ("收费标准", 500),
    "fee_basis": ("收费依据", 500),
    "co_departments": ("协办部门", 500),
}


def item_problems(draft: ItemDraft, policy: Policy) -> dict[str, str]:
    """Every problem with the draft, by field name; empty when it may be saved."""
    errors: dict[str, str] = {}
    draft.basic_code = draft.basic_code.strip()
    draft.implementation_code = draft.implementation_code.strip().upper()
    if problem := basic_code_problem(draft.basic_code):
        errors["basic_code"] = problem
    if draft.level not in LEVELS:
        errors["level"] = "请选择行使层级：县级、乡镇级或村级"
    elif "basic_code" not in errors and (
        problem := implementation_code_problem(
            draft.implementation_code, basic_code=draft.basic_code, level=draft.level
        )
    ):
        errors["implementation_code"] = problem
    if not draft.name.strip():
        errors["name"] = "请填写事项名称"
    for name, (label, limit) in TEXT_LIMITS.items():
        if len(getattr(draft, name)) > limit and name not in errors:
            errors[name] = f"{label}不能超过 {limit} 个字"
    if draft.item_type not in ITEM_TYPES:
        errors["item_type"] = "请选择事项类型"
    if not draft.implementing_body.strip():
        errors["implementing_body"] = "请填写实施主体，例如“青山镇人民政府”"
    if draft.handling_kind not in HANDLING_KINDS:
        errors["handling_kind"] = "请选择办件类型：即办件、承诺件、联办件或上报件"
    if draft.handling_kind == "joint":
        if not draft.lead_department.strip():
            errors["lead_department"] = "联办件必须填写牵头部门"
        if not draft.co_departments.strip():
            errors["co_departments"] = "联办件必须填写协办部门（每行一个）"
    if draft.handling_kind == "relayed" and not draft.decision_body.strip():
        errors["decision_body"] = "上报件必须填写作出决定的县级部门，例如“示范县民政局”"
    errors |= _limit_problems(draft, policy)
    if draft.result_type not in RESULT_TYPES:
        errors["result_type"] = "请选择办理结果类型"
    if not 0 <= draft.visits_required <= 5:
        errors["visits_required"] = "到现场次数请填 0–5"
    if not 1 <= draft.online_depth <= 5:
        errors["online_depth"] = "网办深度请填 1–5 星"
    if draft.fee_charged and not draft.fee_basis.strip():
        errors["fee_basis"] = "收费事项必须写明收费依据"
    errors |= _material_problems(draft.materials)
    return errors


def _limit_problems(draft: ItemDraft, policy: Policy) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, label in (("statutory_unit", "法定时限单位"), ("promised_unit", "承诺时限单位")):
        if getattr(draft, name) not in UNIT_NAMES:
            errors[name] = f"请选择{label}：工作日、自然日或工作小时"
    if not 1 <= draft.statutory_limit <= 999:
        errors["statutory_limit"] = "法定时限请填 1–999 的整数"
    if not 0 <= draft.promised_limit <= 999:
        errors["promised_limit"] = "承诺时限请填 0–999 的整数（0 表示当场办结）"
    if errors:
        return errors
    if draft.promised_limit > 0 and draft.handling_kind == "immediate":
        if draft.promised_unit != "working_hours":
            errors["promised_limit"] = "即办件应当场办结：承诺时限填 0 个工作日，或以工作小时计"
        return errors
    if draft.promised_unit != draft.statutory_unit:
        if draft.promised_limit > 0:
            errors["promised_unit"] = "承诺时限与法定时限请用同一单位，以便比较"
        return errors
    if draft.promised_limit > draft.statutory_limit:
        errors["promised_limit"] = (
            f"承诺时限（{draft.promised_limit}）不能超过法定时限（{draft.statutory_limit}）"
        )
    elif problem := policy.promise_problem(draft.statutory_limit, draft.promised_limit):
        errors["promised_limit"] = problem
    return errors


def _material_problems(materials: list[MaterialDraft]) -> dict[str, str]:
    problems: list[str] = []
    seen: set[str] = set()
    for number, material in enumerate(materials, start=1):
        if not material.name.strip():
            problems.append(f"第 {number} 项材料缺少名称")
        elif material.name in seen:
            problems.append(f"第 {number} 项材料“{material.name}”重复了")
        seen.add(material.name)
        if not (0 <= material.originals <= 20 and 0 <= material.copies <= 20):
            problems.append(f"第 {number} 项材料的原件、复印件份数请填 0–20")
        if material.gap_allowed and material.required and "身份证" in material.name:
            problems.append(f"第 {number} 项“{material.name}”是身份证明，不能容缺受理")
    return {"materials": "；".join(problems)} if problems else {}
