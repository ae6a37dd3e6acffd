"""Importing a spreadsheet into the catalogue: a preview that writes nothing, then all or nothing.

Each parsed row is checked by the same rules as the edit form (`item_problems` under the
county's policy) and matched to the catalogue by its 实施编码: not there → new; there and
different from its current version → changed (a new version, note 表格导入); else unchanged.
`do_import` re-checks everything inside its own transaction and writes only when every row
is valid, so a file is imported whole or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from server.audit.actions import do_record_audit
from server.auth.models import User
from server.catalog.actions import do_create_item, do_update_item, require_catalogue_editor
from server.catalog.models import CatalogItem
from server.catalog.queries import ItemView, all_current
from server.catalog.rules import ItemDraft, item_problems
from server.catalog.sheet_layout import HEADER_OF
from server.catalog.sheets import ParsedRow
from server.forms import ValidationFailed
from server.policy.queries import load_policy
from server.settings import Settings

Status = Literal["new", "changed", "unchanged", "error"]
STATUS_NAMES: dict[str, str] = {
    "new": "新增",
    "changed": "修改",
    "unchanged": "无变化",
    "error": "有错误",
}
STATUSES: tuple[Status, ...] = ("new", "changed", "unchanged", "error")
CHANGE_NOTE = "表格导入"
MATERIALS_HEADER = HEADER_OF["materials"]


@dataclass
class PreviewRow:
    number: int
    status: Status
    name: str = ""
    implementation_code: str = ""
    errors: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # headers of the columns that differ
    draft: ItemDraft | None = None
    item: CatalogItem | None = None  # the catalogue's item with this 实施编码


@dataclass
class ImportPreview:
    rows: list[PreviewRow]

    def count(self, status: Status) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def counts(self) -> dict[str, int]:
        return {status: self.count(status) for status in STATUSES}

    @property
    def ok(self) -> bool:
        """Something to import and nothing wrong."""
        return bool(self.rows) and self.count("error") == 0

    @property
    def errors(self) -> list[str]:
        return [error for row in self.rows for error in row.errors]


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


def _same_lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _comparable(draft: ItemDraft) -> dict[str, object]:
    """A draft as compared: a browser's CRLF and a spreadsheet's LF are the same text."""
    values: dict[str, object] = {}
    for f in fields(draft):
        value = getattr(draft, f.name)
        if isinstance(value, str):
            value = _same_lines(value)
        elif f.name == "materials":
            value = [
                {k: _same_lines(v) if isinstance(v, str) else v for k, v in vars(m).items()}
                for m in value
            ]
        values[f.name] = value
    return values


def changed_columns(current: ItemDraft, incoming: ItemDraft) -> list[str]:
    """The headers of the columns whose values differ, in the sheet's order."""
    old, new = _comparable(current), _comparable(incoming)
    return [HEADER_OF[name] for name in HEADER_OF if old[name] != new[name]]


async def preview_import(session: AsyncSession, rows: list[ParsedRow]) -> ImportPreview:
    """Classify every row (new, changed, unchanged, error); writes nothing."""
    policy = await load_policy(session)
    current: dict[str, ItemView] = {
        view.item.implementation_code: view
        for view in await all_current(session, active_only=False)
    }
    result: list[PreviewRow] = []
    for row in rows:
        preview = PreviewRow(
            row.number, "error", name=row.name, errors=list(row.errors), draft=row.draft
        )
        if row.draft is not None:
            problems = item_problems(row.draft, policy)  # also normalises the codes
            preview.errors += [
                f"第 {row.number} 行“{HEADER_OF.get(name, name)}”：{message}"
                for name, message in problems.items()
            ]
            preview.name = row.draft.name
            preview.implementation_code = row.draft.implementation_code
        result.append(preview)
    _mark_duplicates(result)
    for preview in result:
        if preview.draft is None or preview.errors:
            preview.status = "error"
            continue
        view = current.get(preview.implementation_code)
        if view is None:
            preview.status = "new"
            continue
        preview.item = view.item
        preview.changes = changed_columns(view.draft(), preview.draft)
        if not preview.changes:
            preview.status = "unchanged"
        elif view.item.status != "active":
            preview.status = "error"
            preview.errors.append(
                f"第 {preview.number} 行“实施编码”：事项“{view.version.name}”已停用，"
                "请先在事项目录中恢复，再导入修改"
            )
        else:
            preview.status = "changed"
    return ImportPreview(result)


def _mark_duplicates(rows: list[PreviewRow]) -> None:
    numbers: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.implementation_code:
            numbers[row.implementation_code].append(row.number)
    for row in rows:
        others = [n for n in numbers.get(row.implementation_code, []) if n != row.number]
        if others:
            listed = "、".join(str(n) for n in others)
            row.errors.append(
                f"第 {row.number} 行“实施编码”：与第 {listed} 行重复，同一事项在文件里只能出现一次"
            )


async def do_import(
    *, session: AsyncSession, settings: Settings, actor: User | None, rows: list[ParsedRow]
) -> ImportResult:
    """Create the new items and new versions of the changed ones in one transaction, or nothing."""
    require_catalogue_editor(actor, settings)
    preview = await preview_import(session, rows)
    if not preview.rows:
        raise ValidationFailed({"file": "表格里没有事项，没有导入任何内容。"})
    if not preview.ok:
        errors = preview.errors
        more = f"等 {len(errors)} 处" if len(errors) > 3 else ""
        raise ValidationFailed(
            {"file": "；".join(errors[:3]) + f"{more}。文件有错误，没有导入任何内容。"}
        )
    created = updated = number = 0
    try:
        for row in preview.rows:
            number = row.number
            if row.draft is None:  # never: a row without errors has its draft
                continue
            if row.status == "new":
                await do_create_item(
                    session=session,
                    settings=settings,
                    actor=actor,
                    draft=row.draft,
                    commit=False,
                )
                created += 1
            elif row.status == "changed" and row.item is not None:
                await do_update_item(
                    session=session,
                    settings=settings,
                    actor=actor,
                    item=row.item,
                    draft=row.draft,
                    change_note=CHANGE_NOTE,
                    commit=False,
                )
                updated += 1
        do_record_audit(
            session=session,
            actor_id=actor.id if actor else None,
            action="catalog.import",
            created=created,
            updated=updated,
            unchanged=preview.count("unchanged"),
        )
        await session.commit()
    except ValidationFailed as failed:
        await session.rollback()
        raise ValidationFailed(
            {"file": f"第 {number} 行：{'；'.join(failed.errors.values())}。没有导入任何内容。"}
        ) from None
    except IntegrityError:
        await session.rollback()
        raise ValidationFailed(
            {"file": "导入时事项目录正被他人修改，没有导入任何内容。请重新上传后再试。"}
        ) from None
    except Exception:
        await session.rollback()
        raise
    return ImportResult(created, updated, preview.count("unchanged"))
