"""The catalogue spreadsheet's columns and the help sheet: what each column holds and how to
fill it. `sheets.py` writes and reads files with this layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from server.calendar.rules import UNIT_NAMES
from server.catalog.models import HANDLING_KINDS, ITEM_TYPES, LEVELS, RESULT_TYPES

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2000

Kind = Literal["text", "long", "int", "bool", "choice", "materials"]


@dataclass(frozen=True)
class Column:
    header: str
    name: str  # the ItemDraft field
    kind: Kind
    help: str
    choices: Mapping[str, str] = field(default_factory=dict)  # code → Chinese name
    required: bool = False  # an empty cell is an error, not the field's default
    width: int = 14


COLUMNS: tuple[Column, ...] = (
    Column(
        "基本编码",
        "basic_code",
        "text",
        "12 位数字。请保持“文本”格式，以免 Excel 改成科学计数法。",
        width=16,
    ),
    Column(
        "实施编码",
        "implementation_code",
        "text",
        "31 位：实施主体统一社会信用代码 18 位 + 行使层级 1 位 + 基本编码 12 位。"
        "导入时按实施编码判断是新增还是修改。",
        width=36,
    ),
    Column("事项名称", "name", "text", "必填，最多 200 字。", width=28),
    Column(
        "事项类型",
        "item_type",
        "choice",
        "填名称（如“行政给付”）或两位代码（如“05”）。",
        ITEM_TYPES,
        required=True,
    ),
    Column(
        "行使层级",
        "level",
        "choice",
        "县级、乡镇（街道）级、村（社区）级，或代码 4、5、6。",
        LEVELS,
        required=True,
    ),
    Column("实施主体", "implementing_body", "text", "必填，例如“青山镇人民政府”。", width=20),
    Column("承办机构", "department", "text", "例如“民政办”。"),
    Column("设立依据", "legal_basis", "long", "法律法规名称及条款，可多行。", width=40),
    Column("受理条件", "conditions", "long", "可多行。", width=40),
    Column("办理流程", "process", "long", "每个环节一行。", width=30),
    Column(
        "办件类型",
        "handling_kind",
        "choice",
        "即办件、承诺件、联办件或上报件。",
        HANDLING_KINDS,
        required=True,
    ),
    Column("牵头部门", "lead_department", "text", "联办件必填。"),
    Column("协办部门", "co_departments", "long", "联办件必填，每行一个部门。"),
    Column(
        "审批（决定）机关", "decision_body", "text", "上报件必填：作出决定的县级部门。", width=18
    ),
    Column("法定时限", "statutory_limit", "int", "1–999 的整数。", required=True, width=10),
    Column(
        "法定时限单位",
        "statutory_unit",
        "choice",
        "工作日、自然日或工作小时；留空按工作日。",
        UNIT_NAMES,
        width=12,
    ),
    Column(
        "承诺时限",
        "promised_limit",
        "int",
        "0–999 的整数，0 表示当场办结。",
        required=True,
        width=10,
    ),
    Column(
        "承诺时限单位",
        "promised_unit",
        "choice",
        "工作日、自然日或工作小时；留空按工作日。",
        UNIT_NAMES,
        width=12,
    ),
    Column("是否收费", "fee_charged", "bool", "是或否；留空为否。", width=10),
    Column("收费标准", "fee_standard", "text", "不收费的填“不收费”。", width=18),
    Column("收费依据", "fee_basis", "text", "收费事项必填。", width=18),
    Column("办理结果名称", "result_name", "text", "例如“审批表”。", width=16),
    Column(
        "办理结果类型",
        "result_type",
        "choice",
        "证照、批文（决定书）或其他；留空为其他。",
        RESULT_TYPES,
        width=14,
    ),
    Column("到现场次数", "visits_required", "int", "0–5 的整数；留空为 1。", width=10),
    Column("网办深度", "online_depth", "int", "1–5 的整数（星级）；留空为 1。", width=10),
    Column("支持预约", "appointment", "bool", "是或否；留空为否。", width=10),
    Column("支持邮寄", "post_delivery", "bool", "是或否；留空为否。", width=10),
    Column("支持网上申请", "online_application", "bool", "是或否；留空为否。", width=12),
    Column("办理地点和时间", "place_and_time", "long", "最多 500 字。", width=28),
    Column("咨询电话", "enquiry_phone", "text", "最多 50 字。"),
    Column("投诉电话", "complaint_phone", "text", "最多 50 字。"),
    Column(
        "申请材料",
        "materials",
        "materials",
        "每行一项材料，各部分用“|”分开：名称|出具单位|原件份数|复印件份数|必需(是/否)|"
        "容缺(是/否)|说明|填写示例。后面的部分可以省略（份数为 0，必需为“是”，容缺为“否”）。"
        "内容本身含有“|”时写作“\\|”。",
        width=50,
    ),
)
HEADERS = tuple(column.header for column in COLUMNS)
HEADER_OF: dict[str, str] = {column.name: column.header for column in COLUMNS}
MATERIAL_PARTS = ("名称", "出具单位", "原件份数", "复印件份数", "必需", "容缺", "说明", "填写示例")


HELP_LINES: tuple[tuple[str, str], ...] = (
    *((column.header, column.help) for column in COLUMNS),
    ("", ""),
    (
        "导入规则",
        "第一行是列名，不要改动；每个事项一行，空行会被跳过。列的顺序可以调整。"
        "实施编码已在目录中的，按修改处理（生成新版本，修改说明为“表格导入”）；"
        "内容完全相同的不做改动；其余按新增处理。任何一行有错误时，整个文件都不会导入。",
    ),
    (
        "申请材料示例",
        "居民身份证||1|1|是|否|\n户口簿||1|0|是|否|户主页和本人页\n"
        "申请书|申请人|1|0|是|是|可容缺，3 个工作日内补交|按样表填写",
    ),
    (
        "文件限制",
        f"每个文件最多 {MAX_ROWS} 个事项、{MAX_BYTES // 1024 // 1024} MB。"
        "也可以另存为 CSV（UTF-8 或 GBK 编码均可）上传，但 CSV 会丢失格式，"
        "且 Excel 打开 CSV 时可能把 12 位基本编码改成科学计数法，建议使用 .xlsx。",
    ),
)
