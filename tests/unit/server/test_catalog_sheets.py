"""The catalogue spreadsheet layout: round trips, encodings, cell problems, file problems."""

from __future__ import annotations

import csv
import dataclasses
import io
import zipfile
from typing import Any

import openpyxl
import pytest

from server.catalog.rules import ItemDraft, MaterialDraft
from server.catalog.sheet_layout import COLUMNS, HEADERS, MAX_BYTES, MAX_ROWS
from server.catalog.sheets import (
    SheetError,
    export_csv,
    export_xlsx,
    materials_text,
    parse_csv,
    parse_upload,
    parse_xlsx,
)
from tests.factories import item_draft


def _drafts() -> list[ItemDraft]:
    joint = item_draft(
        basic_code="992000101001",
        name='=HYPERLINK("http://example.invalid")',  # text, never a formula
        item_type="05",
        handling_kind="joint",
        lead_department="民政办",
        co_departments="财政所\n派出所",
        legal_basis="《社会救助暂行办法》第十一条\n《某省实施办法》第五条",
        conditions="一、本镇户籍\n二、家庭人均收入低于标准\n\n（空行之后）",
        enquiry_phone="+86 0000-8800101",
        fee_charged=True,
        fee_standard="10 元/件",
        fee_basis="某价〔2020〕1 号",
        appointment=True,
        online_application=True,
        materials=[
            MaterialDraft(name="居民身份证", issuer="公安机关", originals=1, copies=2),
            MaterialDraft(
                name="申请书|承诺书",
                note="第一行\n第二行 C:\\temp\\n",
                sample="按样表填写",
                required=False,
                gap_allowed=True,
            ),
            MaterialDraft(name="#N/A 证明", originals=0, copies=0),
        ],
    )
    relayed = item_draft(
        basic_code="992000101002",
        name="临时救助",
        handling_kind="relayed",
        decision_body="示范县民政局",
        statutory_limit=30,
        promised_limit=10,
        statutory_unit="calendar_days",
        promised_unit="calendar_days",
        result_type="decision",
        materials=[],
    )
    return [item_draft(), joint, relayed]


def _csv(rows: list[list[Any]], encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def _table(drafts: list[ItemDraft]) -> list[list[str]]:
    """The export as a list of rows of text (header first)."""
    text = export_csv(drafts).decode("utf-8-sig")
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""))]


def _set(row: list[str], header: str, value: str) -> None:
    row[HEADERS.index(header)] = value


def test_every_draft_field_has_one_column() -> None:
    names = [column.name for column in COLUMNS]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(ItemDraft))
    assert len(set(HEADERS)) == len(HEADERS)


def test_xlsx_round_trip_keeps_lines_materials_and_text() -> None:
    drafts = _drafts()
    rows = parse_xlsx(export_xlsx(drafts))
    assert [row.errors for row in rows] == [[], [], []]
    assert [row.number for row in rows] == [2, 3, 4]
    assert [row.draft for row in rows] == drafts


def test_xlsx_writes_text_never_formulas_and_explains_every_column() -> None:
    book = openpyxl.load_workbook(io.BytesIO(export_xlsx(_drafts())))
    sheet = book["事项目录"]
    assert [cell.value for cell in sheet[1]] == list(HEADERS)
    name = sheet.cell(row=3, column=HEADERS.index("事项名称") + 1)
    assert name.data_type == "s" and name.value.startswith("=HYPERLINK")
    assert sheet.cell(row=3, column=HEADERS.index("事项类型") + 1).value == "行政给付"
    guide = book["说明"]
    explained = {row[0].value for row in guide.iter_rows(min_row=2)}
    assert set(HEADERS) <= explained
    assert any("名称|出具单位|原件份数" in str(row[1].value) for row in guide.iter_rows())


def test_csv_round_trip_with_bom_crlf_and_formula_guard() -> None:
    drafts = _drafts()
    data = export_csv(drafts)
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"").split(b'"')[0]
    assert "'=HYPERLINK" in data.decode("utf-8-sig")  # Excel must not run it
    assert "'+86 0000" in data.decode("utf-8-sig")
    rows = parse_csv(data)
    assert [row.errors for row in rows] == [[], [], []]
    assert [row.draft for row in rows] == drafts


def test_csv_saved_by_excel_in_gb18030_parses() -> None:
    drafts = _drafts()
    text = export_csv(drafts).decode("utf-8-sig")
    rows = parse_csv(text.encode("gb18030"))
    assert [row.draft for row in rows] == drafts


def test_csv_without_bom_and_tab_separated_unicode_text_parse() -> None:
    table = _table([item_draft()])
    plain = _csv(table, "utf-8")
    assert parse_csv(plain)[0].draft == item_draft()
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\r\n").writerows(table)
    tabbed = out.getvalue().encode("utf-16")  # Excel's “Unicode 文本”
    assert parse_csv(tabbed)[0].draft == item_draft()


def test_xlsx_cells_typed_by_excel_are_normalised() -> None:
    """Numbers typed into Excel come back as int/float; codes as names or numbers."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(HEADERS))
    want = item_draft()
    values: dict[str, Any] = {column.header: "" for column in COLUMNS}
    values |= {
        "基本编码": int(want.basic_code),
        "实施编码": want.implementation_code,
        "事项名称": want.name,
        "事项类型": 20,
        "行使层级": 5.0,
        "实施主体": want.implementing_body,
        "承办机构": want.department,
        "设立依据": want.legal_basis,
        "受理条件": want.conditions,
        "办理流程": want.process,
        "办件类型": "承诺件",
        "法定时限": 20.0,
        "法定时限单位": "工作日",
        "承诺时限": 8,
        "承诺时限单位": "",
        "是否收费": False,
        "收费标准": "不收费",
        "办理结果名称": "审批表",
        "办理结果类型": "其他",
        "到现场次数": 1,
        "网办深度": 1,
        "支持预约": "否",
        "支持邮寄": None,
        "支持网上申请": "否",
        "办理地点和时间": want.place_and_time,
        "咨询电话": want.enquiry_phone,
        "申请材料": materials_text(want.materials),
    }
    sheet.append([values[header] for header in HEADERS])
    sheet.append([])
    sheet.append([None] * len(HEADERS))
    item_05 = dict(values, 事项类型=5, 行使层级="乡镇级", 实施编码=want.implementation_code)
    sheet.append([item_05[header] for header in HEADERS])
    out = io.BytesIO()
    book.save(out)
    rows = parse_xlsx(out.getvalue())
    assert [row.number for row in rows] == [2, 5]  # empty rows 3 and 4 are skipped
    assert rows[0].errors == [] and rows[0].draft == want
    assert rows[1].draft is not None and rows[1].draft.item_type == "05"
    assert rows[1].draft.level == "5"


def test_bad_cells_say_row_column_and_fix() -> None:
    table = _table([item_draft(), item_draft(), item_draft()])
    _set(table[1], "法定时限", "二十")
    _set(table[1], "是否收费", "收")
    table.insert(2, [""] * len(HEADERS))  # an empty row: skipped, but still counted
    _set(table[3], "办件类型", "普通件")
    _set(table[3], "事项类型", "")
    _set(table[4], "申请材料", "居民身份证||一|1|是|否|\n申请书||1|0|必须|否|")
    rows = parse_csv(_csv(table))
    assert [row.number for row in rows] == [2, 4, 5]
    assert all(row.draft is None for row in rows)
    assert rows[0].errors == [
        "第 2 行“法定时限”：应为整数，现为“二十”",
        "第 2 行“是否收费”：应为“是”或“否”，现为“收”",
    ]
    assert rows[1].errors == [
        "第 4 行“事项类型”：不能为空，请填写行政许可、行政处罚、行政强制、行政征收、行政给付、"
        "行政检查、行政确认、行政奖励、行政裁决、其他行政权力或公共服务",
        "第 4 行“办件类型”：应为即办件、承诺件、联办件或上报件，现为“普通件”",
    ]
    assert rows[2].errors == [
        "第 5 行“申请材料”：第 1 项的原件份数应为整数，现为“一”",
        "第 5 行“申请材料”：第 2 项的“必需”应为“是”或“否”，现为“必须”",
    ]


def test_code_mangled_by_excel_is_explained() -> None:
    table = _table([item_draft()])
    _set(table[1], "基本编码", "9.92E+11")
    (row,) = parse_csv(_csv(table))
    assert row.errors[0].startswith("第 2 行“基本编码”：被 Excel 改成了科学计数法（9.92E+11）")


def test_too_many_material_fields() -> None:
    table = _table([item_draft()])
    _set(table[1], "申请材料", "a|b|1|1|是|否|说明|示例|多余")
    (row,) = parse_csv(_csv(table))
    assert row.errors == [
        "第 2 行“申请材料”：第 1 项用“|”分成了 9 段，最多 8 段；内容本身的“|”请写作“\\|”"
    ]


def test_missing_and_unknown_headers_name_the_columns() -> None:
    table = _table([item_draft()])
    for row in table:
        del row[HEADERS.index("承诺时限单位")]
        del row[HEADERS.index("法定时限")]
    table[0][0] = "编码"
    with pytest.raises(SheetError) as caught:
        parse_csv(_csv(table))
    message = str(caught.value)
    assert "缺少这些列：基本编码、法定时限、承诺时限单位" in message
    assert "不认识这些列：编码" in message


def test_headers_may_use_half_width_brackets_and_any_order() -> None:
    table = _table([item_draft()])
    table = [list(reversed(row)) for row in table]
    table[0] = [h.replace("（", "(").replace("）", ")") for h in table[0]]
    assert parse_csv(_csv(table))[0].draft == item_draft()


def test_not_an_xlsx_file() -> None:
    for data in (b"hello, world", b"PK\x03\x04broken zip", b"\xd0\xcf\x11\xe0old xls"):
        with pytest.raises(SheetError, match=r"Excel"):
            parse_xlsx(data)
    with pytest.raises(SheetError, match=r"文件不是有效的 Excel（\.xlsx）文件"):
        parse_upload("目录.xlsx", b"just text")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("hello.txt", "not a workbook")
    with pytest.raises(SheetError, match=r"文件不是有效的 Excel"):
        parse_upload("目录.xlsx", archive.getvalue())
    with pytest.raises(SheetError, match=r"只能导入"):
        parse_upload("目录.pdf", b"%PDF-1.7")


def test_limits_empty_and_header_only_files() -> None:
    with pytest.raises(SheetError, match=r"文件是空的"):
        parse_csv(b"")
    with pytest.raises(SheetError, match=r"文件太大"):
        parse_csv(b"x" * (MAX_BYTES + 1))
    table = _table([item_draft()])
    with pytest.raises(SheetError, match=rf"最多导入 {MAX_ROWS} 个事项"):
        parse_csv(_csv([table[0]] + [table[1]] * (MAX_ROWS + 1)))
    assert parse_csv(_csv([table[0]])) == []
    assert parse_csv(_csv([table[0]] + [table[1]] * MAX_ROWS))[-1].number == MAX_ROWS + 1


def test_zip_bomb_is_refused_before_it_is_opened() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("xl/sharedStrings.xml", b"\0" * (101 * 1024 * 1024))
    assert len(archive.getvalue()) < MAX_BYTES
    with pytest.raises(SheetError, match=r"解压后超过"):
        parse_xlsx(archive.getvalue())
