"""Text for the OpenAPI schema's field descriptions, written once for every API module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def listed(names: Mapping[Any, str]) -> str:
    """The codes a field takes, with their Chinese names: "05=行政给付，07=行政确认"."""
    return "，".join(f"{code}={name}" for code, name in names.items())
