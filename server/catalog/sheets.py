"""The catalogue as a spreadsheet (.xlsx or .csv): one layout, written and read here, no database.

Layout: a header row of Chinese column names (`COLUMNS`, any order when reading, all of them
required), then one row per item; empty rows are skipped. Choices are written as their Chinese
names (事项类型 行政给付, 办件类型 承诺件, 时限单位 工作日, 是/否) and read as names or codes
(事项类型 05, 行使层级 5). Multi-line cells keep their line breaks (read back as "\\n").

申请材料 holds every material in one cell, one material per line, fields separated by "|":

    名称|出具单位|原件份数|复印件份数|必需(是/否)|容缺(是/否)|说明|填写示例

Trailing fields may be left out (份数 0, 必需 是, 容缺 否). A "|", a line break or a "\\" inside a
field is written "\\|", "\\n" or "\\\\"; any other backslash is read as itself.

Safety: an .xlsx is opened with `read_only=True, data_only=True` (cached values only, nothing
evaluated) after its declared unpacked size is checked (a zip bomb stops there); cells are
written as text, never as formulas. In CSV, a cell starting with = + - @ or ' gets a leading "'"
so that Excel does not run it as a formula (CSV injection); reading drops that "'" again.
Limits: `MAX_BYTES` per file, `MAX_ROWS` items per file.

Round trip: `parse_*(export_*(drafts))` gives the same drafts (text stripped, line ends "\\n").
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from server.catalog.rules import ItemDraft, MaterialDraft
from server.catalog.sheet_layout import (
    COLUMNS,
    HEADER_OF,
    HEADERS,
    HELP_LINES,
    MATERIAL_PARTS,
    MAX_BYTES,
    MAX_ROWS,
    Column,
)

MAX_UNPACKED = 100 * 1024 * 1024  # declared size of everything inside an .xlsx
SHEET_TITLE = "事项目录"
HELP_TITLE = "说明"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
YES, NO = "是", "否"
BOOL_WORDS = {"是": True, "否": False, "Y": True, "N": False, "TRUE": True, "FALSE": False}


class SheetError(Exception):
    """The file as a whole cannot be read; the message (Chinese) says what to do."""


_DEFAULTS = ItemDraft(
    basic_code="", implementation_code="", name="", item_type="", level="", implementing_body=""
)
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+\d+$", re.IGNORECASE)
_CSV_GUARDED = ("=", "+", "-", "@", "'")


@dataclass
class ParsedRow:
    number: int  # as the user sees it in the spreadsheet: the header is row 1
    draft: ItemDraft | None
    errors: list[str] = field(default_factory=list)
    name: str = ""  # the 事项名称 cell as written, to show the row even when it has errors


# --- cells ------------------------------------------------------------------------------------


def _squash(text: str) -> str:
    """For matching headers and choices: full-width forms folded, all spaces dropped."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()


def _cell_text(value: Any) -> str:
    """A cell as the user meant it: 20.0 → "20", TRUE → "是", line ends "\\n", stripped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "\\n")


def _split_material(line: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(line):
        char = line[index]
        following = line[index + 1] if index + 1 < len(line) else ""
        if char == "\\" and following in ("\\", "|", "n"):
            current.append("\n" if following == "n" else following)
            index += 2
            continue
        if char == "|":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return [part.strip() for part in parts]


def materials_text(materials: Iterable[MaterialDraft]) -> str:
    """The 申请材料 cell: one line per material."""
    lines = []
    for m in materials:
        parts = [
            m.name,
            m.issuer,
            str(m.originals),
            str(m.copies),
            YES if m.required else NO,
            YES if m.gap_allowed else NO,
            m.note,
        ]
        if m.sample:
            parts.append(m.sample)
        lines.append("|".join(_escape(part.replace("\r\n", "\n")) for part in parts))
    return "\n".join(lines)


def _value_text(column: Column, draft: ItemDraft) -> str:
    value = getattr(draft, column.name)
    if column.kind == "materials":
        return materials_text(value)
    if column.kind == "bool":
        return YES if value else NO
    if column.kind == "choice":
        return column.choices.get(value, str(value))
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


# --- reading a row ----------------------------------------------------------------------------


def _choice_lookup(choices: Mapping[str, str]) -> dict[str, str]:
    """Every accepted spelling of a choice: its name, its code, its name without （…）."""
    lookup: dict[str, str] = {}
    for code, name in choices.items():
        lookup[_squash(code)] = code
        lookup[_squash(name)] = code
        lookup[_squash(re.sub(r"（.*?）", "", name))] = code
    return lookup


_LOOKUPS = {column.name: _choice_lookup(column.choices) for column in COLUMNS if column.choices}


def _options(choices: Mapping[str, str]) -> str:
    names = list(choices.values())
    return "、".join(names[:-1]) + "或" + names[-1] if len(names) > 1 else names[0]


def _int(raw: str) -> int | None:
    folded = unicodedata.normalize("NFKC", raw)
    return int(folded) if re.fullmatch(r"[0-9]{1,9}", folded) else None


def _bool(raw: str) -> bool | None:
    return BOOL_WORDS.get(_squash(raw))


def _parse_cell(column: Column, raw: str) -> tuple[Any, str | None]:
    """(value, problem); the problem says what the cell should hold."""
    default = getattr(_DEFAULTS, column.name) if column.name != "materials" else []
    if column.kind in ("text", "long"):
        if column.name == "basic_code" and _SCIENTIFIC.match(raw):
            return raw, (
                f"被 Excel 改成了科学计数法（{raw}），请把这一列设为“文本”格式后重新"
                "填写 12 位编码，或改用 .xlsx 文件"
            )
        return raw, None
    if raw == "":
        if column.required:
            hint = "整数" if column.kind == "int" else _options(column.choices)
            return default, f"不能为空，请填写{hint}"
        return default, None
    if column.kind == "int":
        number = _int(raw)
        return (number, None) if number is not None else (0, f"应为整数，现为“{raw}”")
    if column.kind == "bool":
        flag = _bool(raw)
        return (flag, None) if flag is not None else (False, f"应为“是”或“否”，现为“{raw}”")
    key = _squash(raw)
    if column.name == "item_type" and key.isdigit() and len(key) == 1:
        key = key.zfill(2)  # Excel turned the code 05 into the number 5
    code = _LOOKUPS[column.name].get(key)
    if code is None:
        return "", f"应为{_options(column.choices)}，现为“{raw}”"
    return code, None


def _parse_material(index: int, line: str) -> tuple[MaterialDraft, list[str]]:
    problems: list[str] = []
    parts = _split_material(line)
    if len(parts) > len(MATERIAL_PARTS):
        problems.append(
            f"第 {index} 项用“|”分成了 {len(parts)} 段，最多 {len(MATERIAL_PARTS)} 段；"
            "内容本身的“|”请写作“\\|”"
        )
    parts += [""] * (len(MATERIAL_PARTS) - len(parts))
    name, issuer, originals, copies, required, gap, note, sample = parts[: len(MATERIAL_PARTS)]

    def count(label: str, text: str) -> int:
        number = _int(text) if text else 0
        if number is None:
            problems.append(f"第 {index} 项的{label}应为整数，现为“{text}”")
        return number or 0

    def flag(label: str, text: str, default: bool) -> bool:
        value = _bool(text) if text else default
        if value is None:
            problems.append(f"第 {index} 项的“{label}”应为“是”或“否”，现为“{text}”")
        return default if value is None else value

    material = MaterialDraft(
        name=name,
        issuer=issuer,
        originals=count("原件份数", originals),
        copies=count("复印件份数", copies),
        required=flag("必需", required, True),
        gap_allowed=flag("容缺", gap, False),
        note=note,
        sample=sample,
    )
    return material, problems


def _parse_materials(raw: str) -> tuple[list[MaterialDraft], list[str]]:
    materials: list[MaterialDraft] = []
    problems: list[str] = []
    lines = [line for line in raw.split("\n") if line.strip()]
    for index, line in enumerate(lines, start=1):
        material, found = _parse_material(index, line)
        materials.append(material)
        problems += found
    return materials, problems


def _parse_row(number: int, cells: dict[str, str]) -> ParsedRow:
    values: dict[str, Any] = {}
    errors: list[str] = []
    for column in COLUMNS:
        raw = cells.get(column.header, "")
        if column.kind == "materials":
            values["materials"], problems = _parse_materials(raw)
            errors += [f"第 {number} 行“{column.header}”：{problem}" for problem in problems]
            continue
        values[column.name], problem = _parse_cell(column, raw)
        if problem:
            errors.append(f"第 {number} 行“{column.header}”：{problem}")
    name = cells.get(HEADER_OF["name"], "")
    if errors:
        return ParsedRow(number, None, errors, name)
    return ParsedRow(number, ItemDraft(**values), [], name)


def _header_map(row: Sequence[str]) -> list[str | None]:
    """Each position's column header (None for a blank header); file-level problems raise."""
    known = {_squash(header): header for header in HEADERS}
    mapped: list[str | None] = []
    unknown: list[str] = []
    for text in row:
        header = known.get(_squash(text)) if text else None
        if text and header is None:
            unknown.append(text)
        mapped.append(header)
    seen = [header for header in mapped if header]
    twice = sorted({header for header in seen if seen.count(header) > 1}, key=HEADERS.index)
    missing = [header for header in HEADERS if header not in seen]
    problems = []
    if missing:
        problems.append(f"缺少这些列：{'、'.join(missing)}")
    if unknown:
        problems.append(f"不认识这些列：{'、'.join(unknown)}")
    if twice:
        problems.append(f"这些列出现了不止一次：{'、'.join(twice)}")
    if problems:
        raise SheetError(
            "表头不对，"
            + "；".join(problems)
            + "。请下载当前目录作为模板，保留第一行的列名，再填写。"
        )
    return mapped


def parse_rows(rows: Iterable[Sequence[Any]]) -> list[ParsedRow]:
    """Raw rows (row 1 first) to parsed rows; the first non-empty row is the header."""
    headers: list[str | None] | None = None
    parsed: list[ParsedRow] = []
    for number, row in enumerate(rows, start=1):
        texts = [_cell_text(value) for value in row]
        if not any(texts):
            continue
        if headers is None:
            headers = _header_map(texts)
            continue
        if len(parsed) >= MAX_ROWS:
            raise SheetError(f"一个文件最多导入 {MAX_ROWS} 个事项，请分成几个文件。")
        cells: dict[str, str] = {}
        stray = False
        for position, text in enumerate(texts):
            header = headers[position] if position < len(headers) else None
            if header is not None:
                cells[header] = text
            elif text:
                stray = True
        result = _parse_row(number, cells)
        if stray:
            result.draft = None
            result.errors.append(f"第 {number} 行有内容写在了没有列名的列里，请删除或移到对应的列")
        parsed.append(result)
    if headers is None:
        raise SheetError("文件里没有内容。请下载当前目录作为模板填写。")
    return parsed


# --- the two formats --------------------------------------------------------------------------


def _check_size(data: bytes) -> None:
    if not data:
        raise SheetError("文件是空的，请选择填好的目录文件。")
    if len(data) > MAX_BYTES:
        raise SheetError(
            f"文件太大（{len(data) / 1024 / 1024:.1f} MB），最多 "
            f"{MAX_BYTES // 1024 // 1024} MB。请分成几个文件导入。"
        )


def export_csv(drafts: list[ItemDraft]) -> bytes:
    """UTF-8 with a BOM (Excel on a Chinese Windows PC reads it right), CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for draft in drafts:
        texts = [_value_text(column, draft) for column in COLUMNS]
        writer.writerow(["'" + text if text.startswith(_CSV_GUARDED) else text for text in texts])
    return out.getvalue().encode("utf-8-sig")


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")  # Excel's “Unicode 文本”
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SheetError(
        "无法识别 CSV 文件的编码。请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后再上传。"
    )


def _csv_rows(text: str) -> Iterator[list[str]]:
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        yield [
            cell[1:] if cell.startswith("'") and cell[1:2] in _CSV_GUARDED else cell for cell in row
        ]


def parse_csv(data: bytes) -> list[ParsedRow]:
    """UTF-8 with or without a BOM, GB18030 (GBK) as Excel saves it, or UTF-16 with a BOM."""
    _check_size(data)
    if data.startswith(b"PK\x03\x04"):
        raise SheetError("这是 Excel（.xlsx）文件而不是 CSV 文件，请保留 .xlsx 扩展名后上传。")
    text = _decode(data)
    try:
        return parse_rows(_csv_rows(text))
    except csv.Error as exc:
        raise SheetError(
            f"CSV 文件格式有误（{exc}），请用 Excel 重新另存为 CSV 后再上传。"
        ) from None


def _text_cell(sheet: Any, text: str, *, wrap: bool = False, header: bool = False) -> Any:
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if not (wrap or header or text.startswith(("=", "#"))):
        return text  # openpyxl types a plain str as text unless it looks like a formula/error
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # never a formula, whatever the text starts with
    if header:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E6F0FA")
    if wrap:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


def _dropdowns(sheet: Any, last_row: int) -> None:
    """Choice and 是/否 columns get a drop-down list (a hint only: codes are accepted too)."""
    for index, column in enumerate(COLUMNS, start=1):
        names = (
            list(column.choices.values())
            if column.kind == "choice"
            else ([YES, NO] if column.kind == "bool" else [])
        )
        if names:
            letter = get_column_letter(index)
            validation = DataValidation(
                type="list", formula1='"' + ",".join(names) + '"', allow_blank=True
            )
            validation.add(f"{letter}2:{letter}{last_row}")
            sheet.data_validations.append(validation)


def export_xlsx(drafts: list[ItemDraft]) -> bytes:
    """Sheet 事项目录 (one row per item) and sheet 说明 (what every column holds)."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(SHEET_TITLE)
    sheet.freeze_panes = "A2"  # the header stays in view
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    _dropdowns(sheet, max(MAX_ROWS + 1, len(drafts) + 1))
    sheet.append([_text_cell(sheet, header, header=True) for header in HEADERS])
    for draft in drafts:
        sheet.append(
            [
                _text_cell(
                    sheet, _value_text(column, draft), wrap=column.kind in ("long", "materials")
                )
                for column in COLUMNS
            ]
        )
    guide = book.create_sheet(HELP_TITLE)
    guide.column_dimensions["A"].width = 18
    guide.column_dimensions["B"].width = 90
    guide.append([_text_cell(guide, "列名", header=True), _text_cell(guide, "怎么填", header=True)])
    for line in HELP_LINES:
        guide.append([_text_cell(guide, line[0]), _text_cell(guide, line[1], wrap=True)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def parse_xlsx(data: bytes) -> list[ParsedRow]:
    """The sheet 事项目录 (or else the first sheet); cached values only, nothing evaluated."""
    _check_size(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise SheetError(
            "这是旧版 Excel（.xls）文件。请在 Excel 中“另存为”Excel 工作簿（.xlsx）后再上传。"
        )
    invalid = SheetError(
        "文件不是有效的 Excel（.xlsx）文件，可能已损坏或不是 Excel 保存的。"
        "请用 Excel 打开后另存为 .xlsx 再上传，或改用 CSV。"
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNPACKED:
            raise SheetError(
                f"文件解压后超过 {MAX_UNPACKED // 1024 // 1024} MB，内容太多，请分成几个文件导入。"
            )
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except SheetError:
        raise
    except Exception:  # a malformed file fails in many ways inside zipfile and openpyxl
        raise invalid from None
    try:
        names = book.sheetnames
        sheet = book[SHEET_TITLE] if SHEET_TITLE in names else book[names[0]]
        if not hasattr(sheet, "iter_rows"):
            raise invalid  # a chart sheet
        sheet.reset_dimensions()  # trust no stored dimensions: read every row there is
        return parse_rows(sheet.iter_rows(values_only=True))
    except SheetError:
        raise
    except Exception:
        raise invalid from None
    finally:
        book.close()


def parse_upload(filename: str, data: bytes) -> list[ParsedRow]:
    """By content first (an .xlsx is a zip), then by the file's extension."""
    name = filename.lower()
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")) or name.endswith((".xlsx", ".xls")):
        return parse_xlsx(data)
    if name.endswith((".csv", ".txt")):
        return parse_csv(data)
    raise SheetError("只能导入 Excel（.xlsx）或 CSV（.csv）文件。")
