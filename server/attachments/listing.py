"""The case page's 材料扫描件 section: the scans by material, and the upload form's facts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from server.attachments.access import LinkedScan
from server.attachments.media import ACCEPT, MAX_MB, MEDIA_NAMES, OTHER_MATERIAL, size_kb


@dataclass(frozen=True)
class ScanLine:
    name: str
    kind: str  # JPEG 图片, PDF 文件…
    size_kb: int
    at: dt.datetime
    actor: str
    href: str


@dataclass(frozen=True)
class ScanGroup:
    material: str
    files: list[ScanLine]


@dataclass
class ScanSection:
    groups: list[ScanGroup]
    can_upload: bool  # the user may attach now (`commands_for`)
    materials: list[str]  # the version's materials, then 其他
    material: str = ""  # chosen in a form that came back with errors
    errors: dict[str, str] = field(default_factory=dict)
    accept: str = ACCEPT
    max_mb: int = MAX_MB


def scan_section(
    case_id: str,
    scans: list[LinkedScan],
    materials: list[str],
    actor_name: Callable[[str], str],
    *,
    can_upload: bool,
) -> ScanSection:
    """Scans grouped by material, in the checklist's order and then 其他 and any other name
    (a material of another version, from sync); within a material, as they were attached."""
    order = [*materials, OTHER_MATERIAL]
    names = order + sorted({s.material for s in scans} - set(order))
    groups = [
        ScanGroup(
            material,
            [
                ScanLine(
                    name=s.name,
                    kind=MEDIA_NAMES.get(s.media_type, "文件"),
                    size_kb=size_kb(s.size),
                    at=s.at,
                    actor=actor_name(s.actor),
                    href=f"/cases/{case_id}/attachments/{s.sha256}",
                )
                for s in scans
                if s.material == material
            ],
        )
        for material in names
    ]
    return ScanSection(
        groups=[g for g in groups if g.files], can_upload=can_upload, materials=order
    )
