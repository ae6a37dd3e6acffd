"""Form handling shared by every domain: Chinese error messages per field, values kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ValidationFailed(Exception):
    """Bad input: `errors` maps each field to a message that names the fix."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def form_values(form: Mapping[str, Any], *names: str) -> dict[str, str]:
    """The named fields as stripped text; files and missing fields become ''."""
    values: dict[str, str] = {}
    for name in names:
        value = form.get(name, "")
        values[name] = value.strip() if isinstance(value, str) else ""
    return values


def parse_int(value: str, *, field: str, label: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValidationFailed({field: f"{label}请填写 {low}–{high} 之间的整数"}) from None
    if not low <= number <= high:
        raise ValidationFailed({field: f"{label}请填写 {low}–{high} 之间的整数"})
    return number
