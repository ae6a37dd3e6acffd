"""The item edit form: text fields to an ItemDraft and back, materials as numbered rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from server.catalog.rules import ItemDraft, MaterialDraft
from server.forms import whole_number

BOOL_FIELDS = ("fee_charged", "appointment", "post_delivery", "online_application")
INT_FIELDS = {
    "statutory_limit": "法定时限",
    "promised_limit": "承诺时限",
    "visits_required": "到现场次数",
    "online_depth": "网办深度",
}
MATERIAL_TEXT = ("name", "issuer", "note", "sample")
MATERIAL_INT = ("originals", "copies")
MATERIAL_BOOL = ("required", "gap_allowed")
MAX_MATERIAL_ROWS = 40
ITEM_FIELDS = [f.name for f in fields(ItemDraft) if f.name != "materials"]


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    # Browsers send textareas with CRLF; stored text uses LF, as spreadsheets give it back.
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""


def material_rows(form: Mapping[str, Any]) -> list[dict[str, str]]:
    """The material rows as typed (blank rows dropped), for re-showing the form."""
    rows = []
    for index in range(MAX_MATERIAL_ROWS):
        row = {
            name: _text(form, f"m-{index}-{name}")
            for name in (*MATERIAL_TEXT, *MATERIAL_INT, *MATERIAL_BOOL)
        }
        if row["name"] or row["issuer"] or row["note"]:
            rows.append(row)
    return rows


def parse_item_form(
    form: Mapping[str, Any],
) -> tuple[ItemDraft, dict[str, str], list[dict[str, str]], dict[str, str]]:
    """(draft, values as typed, material rows as typed, errors found while parsing)."""
    values = {name: _text(form, name) for name in ITEM_FIELDS}
    errors: dict[str, str] = {}
    numbers: dict[str, int] = {}
    for name, label in INT_FIELDS.items():
        raw = values[name]
        if (number := whole_number(raw)) is not None:
            numbers[name] = number
        else:
            numbers[name] = -1
            errors[name] = f"{label}请填写整数"
    rows = material_rows(form)
    materials = []
    for number, row in enumerate(rows, start=1):
        counts = {}
        for name in MATERIAL_INT:
            raw = row[name] or "0"
            count = whole_number(raw)
            if count is None:
                errors["materials"] = f"第 {number} 项材料的份数请填写整数"
            counts[name] = count or 0
        materials.append(
            MaterialDraft(
                name=row["name"],
                issuer=row["issuer"],
                note=row["note"],
                sample=row["sample"],
                required=row["required"] == "on",
                gap_allowed=row["gap_allowed"] == "on",
                **counts,
            )
        )
    typed: dict[str, Any] = {name: values[name] for name in ITEM_FIELDS}
    typed |= numbers
    typed |= {name: values[name] == "on" for name in BOOL_FIELDS}
    return ItemDraft(**typed, materials=materials), values, rows, errors


def draft_values(draft: ItemDraft) -> tuple[dict[str, str], list[dict[str, str]]]:
    """A draft as form values and material rows."""
    values: dict[str, str] = {}
    for name in ITEM_FIELDS:
        value = getattr(draft, name)
        values[name] = ("on" if value else "") if isinstance(value, bool) else str(value)
    rows = [
        {
            "name": m.name,
            "issuer": m.issuer,
            "note": m.note,
            "sample": m.sample,
            "originals": str(m.originals),
            "copies": str(m.copies),
            "required": "on" if m.required else "",
            "gap_allowed": "on" if m.gap_allowed else "",
        }
        for m in draft.materials
    ]
    return values, rows
