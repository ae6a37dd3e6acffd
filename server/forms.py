"""Form handling shared by every domain: Chinese error messages per field, values kept."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import aclosing
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request


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


def whole_number(value: object) -> int | None:
    """A whole number typed into a form or the address, or None.

    ASCII digits only ("²" is a digit to str.isdigit() but not to int()), at most nine of
    them, so it fits every integer column and an offset computed from it.
    """
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    return None


def parse_int(value: str, *, field: str, label: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValidationFailed({field: f"{label}请填写 {low}–{high} 之间的整数"}) from None
    if not low <= number <= high:
        raise ValidationFailed({field: f"{label}请填写 {low}–{high} 之间的整数"})
    return number


class _InMemoryMultiPartParser(MultiPartParser):
    # Starlette spools a file part over 1 MB to a temporary file; an uploaded scan (an ID card)
    # must never touch the disk in the clear, and the request body is capped already
    # (web.MAX_FORM_BYTES), so it stays in memory.
    spool_max_size = 64 * 1024 * 1024


async def read_form(request: Request, *, max_files: int = 1000, max_fields: int = 1000) -> FormData:
    """The request's form like `request.form()`, but uploaded files are kept in memory.

    The caller closes the form (`await form.close()`); a malformed multipart body is a 400.
    """
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await request.form(max_files=max_files, max_fields=max_fields)
    try:
        async with aclosing(request.stream()) as stream:
            parser = _InMemoryMultiPartParser(
                request.headers, stream, max_files=max_files, max_fields=max_fields
            )
            return await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(status_code=400, detail="提交的表单格式有误，请刷新页面后重试") from exc
