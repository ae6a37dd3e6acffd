"""The public service guide (办事指南): the 十公开 of an item, its QR code, printing, caching."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import unquote

import segno
from sqlmodel import select
from starlette.applications import Starlette

from server.auth.models import User
from server.catalog.actions import do_set_item_status
from server.catalog.models import CatalogItem
from server.catalog.rules import MaterialDraft
from server.settings import PWA_DIR
from tests.conftest import make_client, signed_in
from tests.factories import Personas, make_item

HEADINGS = [
    "一、事项名称",
    "二、设立依据",
    "三、办理流程",
    "四、受理条件",
    "五、申请材料",
    "六、承诺时限",
    "七、收费标准",
    "八、收费依据",
    "九、办理地点和时间",
    "十、咨询电话",
]
SECTION = re.compile(r"<h2>(.*?)</h2>(.*?)(?=<h2>|</article>)", re.S)
TAG = re.compile(r"<[^>]+>")
QR_IMG = re.compile(
    r'<img src="(data:image/svg\+xml[^"]+)" width="(\d+)" height="(\d+)" '
    r'alt="扫码查看本办事指南">'
)


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(TAG.sub(" ", fragment)).split())


def sections(page: str) -> dict[str, str]:
    """The guide's sections by heading, as plain text, in page order."""
    return {heading: text_of(body) for heading, body in SECTION.findall(page)}


def table_rows(page: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    assert body, "no materials table"
    return [
        [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


async def fee_item(app: Starlette) -> CatalogItem:
    """An item with every element filled, a fee, and three kinds of material."""
    return await make_item(
        app,
        basic_code="992000103000",
        name="农村村民住宅建设审批",
        legal_basis="《中华人民共和国土地管理法》第六十二条",
        conditions="本村集体经济组织成员\n一户一宅",
        process="申请\n村级审查\n乡镇受理\n审批\n发证",
        statutory_limit=20,
        promised_limit=8,
        fee_charged=True,
        fee_standard="工本费每证 10 元",
        fee_basis="《示范省农村宅基地管理办法》第十条",
        place_and_time="青山镇便民服务中心 2 号窗口；周一至周五 8:30–12:00，14:30–17:30",
        enquiry_phone="0000-8800102",
        complaint_phone="0000-12345",
        result_name="乡村建设规划许可证",
        result_type="certificate",
        visits_required=2,
        materials=[
            MaterialDraft(name="居民身份证", issuer="公安机关", originals=1, copies=1),
            MaterialDraft(
                name="宅基地申请表", originals=2, gap_allowed=True, note="村民小组签署意见"
            ),
            MaterialDraft(name="户口簿", issuer="公安机关", copies=1, required=False),
        ],
    )


def qr_modules(svg: str) -> list[list[bool]]:
    """The dark modules drawn by segno's SVG path: `M x y` / `m dx dy` moves, `h n` runs."""
    scale = float(re.search(r"scale\((\d+)\)", svg).group(1))  # type: ignore[union-attr]
    width = int(re.search(r"width='(\d+)'", svg).group(1))  # type: ignore[union-attr]
    path = re.search(r" d='([^']+)'", svg).group(1)  # type: ignore[union-attr]
    border = 4
    size = int(width / scale) - 2 * border
    grid = [[False] * size for _ in range(size)]
    x = y = 0.0
    for op, args in re.findall(r"([MmHh])([^MmHh]*)", path):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if op == "M":
            x, y = numbers
        elif op == "m":
            x, y = x + numbers[0], y + numbers[1]
        else:
            run = numbers[0] if op == "h" else numbers[0] - x
            for column in range(int(x), int(x + run)):
                grid[int(y) - border][column - border] = True
            x += run
    return grid


async def test_the_guide_is_public_and_shows_the_ten_public_elements(app: Starlette) -> None:
    item = await fee_item(app)
    url = f"http://testserver/guide/{item.implementation_code}"
    async with make_client(app) as client:  # nobody signed in
        response = await client.get(f"/guide/{item.implementation_code}")
    assert response.status_code == 200, response.text
    page = response.text
    assert '<html lang="zh-CN">' in page
    assert "<title>农村村民住宅建设审批办事指南 · 青山镇便民服务中心</title>" in page
    assert "青山镇便民服务中心 · 办事指南" in page
    assert 'aria-label="主菜单"' not in page  # nobody signed in: no menu
    found = sections(page)
    assert list(found) == HEADINGS
    assert found["一、事项名称"].startswith("农村村民住宅建设审批 ")
    for fact in (
        "事项类型 公共服务",
        "基本编码 992000103000",
        "实施主体 青山镇人民政府",
        "承办机构 民政办",
        "办件类型 承诺件",
        "办理结果 乡村建设规划许可证（证照）",
        "到现场次数 2 次",
        "办理方式 窗口申请",
    ):
        assert fact in found["一、事项名称"], fact
    assert found["二、设立依据"] == "《中华人民共和国土地管理法》第六十二条"
    assert found["三、办理流程"] == "申请 村级审查 乡镇受理 审批 发证"
    assert page.count("<li>") >= 5 and '<ol class="steps"><li>申请</li>' in page
    assert found["四、受理条件"] == "本村集体经济组织成员 一户一宅"
    assert found["六、承诺时限"] == "承诺时限 8 个工作日 法定时限 20 个工作日"
    assert found["七、收费标准"] == "工本费每证 10 元"
    assert found["八、收费依据"] == "《示范省农村宅基地管理办法》第十条"
    assert found["九、办理地点和时间"] == (
        "青山镇便民服务中心 2 号窗口；周一至周五 8:30–12:00，14:30–17:30"
    )
    assert found["十、咨询电话"] == "咨询电话 0000-8800102 投诉电话 0000-12345"
    assert found["五、申请材料"].startswith("序号 材料名称 出具单位 原件 复印件 是否必需 容缺 说明")
    assert table_rows(page) == [
        ["1", "居民身份证", "公安机关", "1 份", "1 份", "必需", "—", ""],
        ["2", "宅基地申请表", "—", "2 份", "0 份", "必需", "可容缺", "村民小组签署意见"],
        ["3", "户口簿", "公安机关", "0 份", "1 份", "非必需", "—", ""],
    ]
    assert "容缺：材料暂缺时，签署承诺书即可先受理" in found["五、申请材料"]
    assert "此事项已停用" not in page
    assert f"实施编码 {item.implementation_code} · 第 1 版" in page
    assert '<a class="button" href="?print=1">打印</a>' in page
    assert url in page  # printed under the QR code for those who cannot scan


async def test_a_free_item_says_so_and_an_immediate_one_is_done_on_the_spot(
    app: Starlette,
) -> None:
    await make_item(
        app,
        handling_kind="immediate",
        statutory_limit=5,
        promised_limit=0,
        materials=[],
        visits_required=1,
    )
    async with make_client(app) as client:
        page = (await client.get("/guide/992000101000")).text
    found = sections(page)
    assert found["六、承诺时限"] == "承诺时限 当场办结 法定时限 5 个工作日"
    assert found["七、收费标准"] == "不收费"
    assert found["八、收费依据"] == "不收费，无收费依据"
    assert found["五、申请材料"] == "无需提交材料。"
    assert found["十、咨询电话"] == "咨询电话 0000-8800101 投诉电话 —"
    assert "办件类型 即办件" in found["一、事项名称"]


async def test_the_qr_code_holds_the_guides_own_address(app: Starlette) -> None:
    item = await fee_item(app)
    url = f"http://testserver/guide/{item.implementation_code}"
    async with make_client(app) as client:
        page = (await client.get(f"/guide/{item.implementation_code}?print=1")).text
    found = QR_IMG.search(page)
    assert found, "no QR <img> with a data: URI"
    src = html.unescape(found.group(1))
    assert src == segno.make(url, error="m").svg_data_uri(scale=3)  # the query is not in it
    header, _, data = src.partition(",")
    assert header == "data:image/svg+xml;charset=utf-8"
    svg = unquote(data)
    assert svg.startswith("<svg") and "<path" in svg and svg.endswith("</svg>")
    # Read the symbol back from the drawing itself and compare it module by module.
    expected = [[bool(bit) for bit in row] for row in segno.make(url, error="m").matrix]
    assert qr_modules(svg) == expected
    assert found.group(2) == found.group(3) == str(3 * (len(expected) + 8))


async def test_a_basic_code_finds_the_item_and_the_qr_names_the_implementation_code(
    app: Starlette,
) -> None:
    item = await fee_item(app)
    async with make_client(app) as client:
        response = await client.get("/guide/992000103000")
    assert response.status_code == 200
    assert '<h1 id="guide-title">农村村民住宅建设审批办事指南</h1>' in response.text
    found = QR_IMG.search(response.text)
    assert found
    canonical = f"http://testserver/guide/{item.implementation_code}"
    assert html.unescape(found.group(1)) == segno.make(canonical, error="m").svg_data_uri(scale=3)


async def test_an_unknown_code_is_the_chinese_404_page(app: Starlette) -> None:
    async with make_client(app) as client:
        response = await client.get("/guide/999999999999")
    assert response.status_code == 404
    assert "页面不存在" in response.text
    assert "没有这个事项，请核对事项编码" in response.text


async def test_a_retired_item_still_has_its_guide_with_a_notice(county_app: Starlette) -> None:
    item = await fee_item(county_app)
    async with county_app.state.db.session() as session:
        row = await session.get(CatalogItem, item.id)
        actor = (await session.exec(select(User).where(User.username == "county.admin"))).one()
        assert row is not None
        await do_set_item_status(
            session=session, settings=county_app.state.settings, actor=actor, item=row, active=False
        )
    async with make_client(county_app) as client:
        response = await client.get(f"/guide/{item.implementation_code}")
    assert response.status_code == 200
    assert "此事项已停用" in response.text and "不再受理新的申请" in response.text
    assert list(sections(response.text)) == HEADINGS  # still readable in full


async def test_cache_headers_public_when_anonymous_private_when_signed_in(
    app: Starlette, personas: Personas
) -> None:
    assert personas.item is not None
    path = f"/guide/{personas.item.implementation_code}"
    async with make_client(app) as client:
        response = await client.get(path)
    assert response.headers["cache-control"] == "public, max-age=300"
    assert "HX-Request" in response.headers["vary"].split(", ")
    async with signed_in(app, "p.clerk") as client:
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "private, max-age=300"
        assert "HX-Request" in response.headers["vary"].split(", ")
        assert f'href="/catalog/{personas.item.id}">← 返回事项' in response.text
        # htmx asking for a fragment still gets the whole guide (it has no fragment)
        fragment = await client.get(path, headers={"HX-Request": "true"})
        assert list(sections(fragment.text)) == HEADINGS


async def test_the_print_version_and_the_print_stylesheet(app: Starlette) -> None:
    item = await make_item(app)
    async with make_client(app) as client:
        page = (await client.get(f"/guide/{item.implementation_code}?print=1")).text
    assert "这是打印版" in page and "纸张选 A4" in page
    assert 'href="?print=1"' not in page
    assert list(sections(page)) == HEADINGS
    css = Path(PWA_DIR / "css" / "app.css").read_text(encoding="utf-8")
    assert "@page { size: A4; margin: 15mm; }" in css
    printed = css[css.rindex("@media print") :]
    for rule in (
        "nav, .no-print, button, .button { display: none !important; }",
        "tr, img, .qr { break-inside: avoid;",
        "border: 1px solid #000",
    ):
        assert rule in printed, rule
