"""Photos of the materials on the agent's phone, in Chromium against a real township server: a
camera-sized picture (3000×2000, a few MB) is kept as a JPEG of at most 1600 px and about
300 KB, only encrypted in IndexedDB (read raw: none of its bytes), shown as a thumbnail and
removable; the upload is cut in the middle of a photo and resumes: every chunk reaches the
server once, none before the cut is sent again, and the server holds what the phone hashed.
An enrolled phone signs its uploads with its device key, so they go up without a session.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from pathlib import Path
from typing import Any

from playwright.sync_api import FilePayload, Page, Route, expect

from server.agent.uploads import CHUNK_BYTES
from server.templating import static_url
from tests.scan_files import tiny_png

from .conftest import OpenTab, TownshipServer
from .test_agent_offline import sign_in
from .test_agent_vault import DUMP, fill_draft, set_pin

AGENT = "zhen.agent2"
LIMIT_BYTES, LIMIT_PX = 300 * 1024, 1600

# A photo-like picture: gradients, shapes and sensor noise, as a camera's JPEG (base64).
PICTURE = (Path(__file__).parent / "noisy_photo.js").read_text("utf-8")

# The draft's photos as the phone holds them, decrypted through photos.js (the page's own
# module instance, so the vault is open), with what the decoder makes of each.
PHOTOS = """async ([url, draft]) => {
  const photos = await import(url);
  const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
  const me = await (await fetch("/api/me")).json();
  const out = [];
  for (const meta of await photos.listPhotos(me.id, draft)) {
    const bytes = await photos.photoBytes(me.id, meta.id);
    const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
    out.push({ meta, size: bytes.length, width: bitmap.width, height: bitmap.height,
      sha256: hex(await crypto.subtle.digest("SHA-256", bytes)),
      pieces: [hex(bytes.slice(0, 24)), hex(bytes.slice(4000, 4024)), hex(bytes.slice(-24))] });
  }
  return out;
}"""


def picture(page: Page, seed: int) -> bytes:
    return base64.b64decode(page.evaluate(PICTURE, seed))


def server_uploads(page: Page, draft: str) -> list[dict[str, Any]]:
    script = "(d) => fetch(`/api/agent/uploads?draft_id=${d}`).then((r) => r.json())"
    return list(page.evaluate(script, draft)["uploads"])


def test_photos_are_small_encrypted_and_resume_after_a_cut(
    open_tab: OpenTab, township_server: TownshipServer
) -> None:
    tab = open_tab(width=412, height=915, mobile=True)
    page = tab.page
    sign_in(page, township_server, AGENT, then="/agent/new")
    set_pin(page)
    fill_draft(page)
    cameras = page.locator("[data-materials] input[type=file]")
    assert cameras.count() >= 2
    expect(cameras.first).to_have_attribute("capture", "environment")
    big = [picture(page, seed) for seed in (7, 8)]
    assert all(len(data) > 1_000_000 for data in big), [len(data) for data in big]
    cameras.first.set_input_files(
        [
            FilePayload(name=f"IMG_{n}.jpg", mimeType="image/jpeg", buffer=data)
            for n, data in enumerate(big)
        ]
    )
    first_list = page.locator("[data-photo-list]").first.locator("li")
    expect(first_list).to_have_count(2)
    expect(first_list.first.locator("img")).to_have_js_property("complete", True)
    # One more, on another material, then removed.
    png = FilePayload(name="x.png", mimeType="image/png", buffer=tiny_png(b"x", 40, 30))
    cameras.nth(1).set_input_files(png)
    second_list = page.locator("[data-photo-list]").nth(1).locator("li")
    expect(second_list).to_have_count(1)
    second_list.get_by_role("button", name="删除").click()
    expect(second_list).to_have_count(0)

    match = re.search(r"[?&]draft=([0-9a-f]+)", page.url)
    assert match, page.url
    draft = match[1]
    kept = page.evaluate(PHOTOS, [static_url("js/photos.js"), draft])
    assert len(kept) == 2
    for photo in kept:
        assert photo["size"] <= LIMIT_BYTES and max(photo["width"], photo["height"]) <= LIMIT_PX
        assert (photo["width"], photo["height"]) == (1600, 1067), photo  # 3000×2000, scaled
        assert photo["sha256"] == photo["meta"]["sha256"] and not photo["meta"]["uploaded"]
    assert kept[0]["size"] > 2 * CHUNK_BYTES, "the cut must fall inside the first photo"

    dump = page.evaluate(DUMP)["text"]
    assert "store:photos" in dump
    for photo in kept:
        for piece in photo["pieces"]:
            assert piece not in dump, "plain JPEG bytes in IndexedDB"

    # The upload: the link dies after the first chunk of the first photo.
    reached: list[tuple[str, int]] = []
    cut = {"on": True}

    def chunks(route: Route) -> None:
        found = re.search(r"/uploads/([0-9a-f]+)/chunks/(\d+)$", route.request.url)
        assert found
        if cut["on"] and len(reached) >= 1:
            route.abort("internetdisconnected")
            return
        reached.append((found[1], int(found[2])))
        route.continue_()

    page.route("**/api/agent/uploads/*/chunks/*", chunks)
    button = page.get_by_role("button", name="上传照片")
    status = page.locator("[data-upload-status]")
    button.click()
    expect(status).to_have_text("网络中断：已上传的部分保留在乡镇，联网后会接着上传")
    assert len(reached) == 1
    before = server_uploads(page, draft)
    assert len(before) == 1 and before[0]["missing"] == list(range(1, before[0]["chunk_count"]))

    cut["on"] = False
    button.click()
    expect(status).to_have_text("照片已全部上传到乡镇（2 张）。")
    expect(first_list.locator(".tag")).to_have_text(["已上传", "已上传"])
    after = server_uploads(page, draft)
    assert [u["sha256"] for u in after] == [p["sha256"] for p in kept]
    assert all(u["complete"] and u["size"] == p["size"] for u, p in zip(after, kept, strict=True))
    expected = Counter((u["id"], idx) for u in after for idx in range(u["chunk_count"]))
    assert Counter(reached) == expected, "each chunk reached the server exactly once"

    button.click()  # nothing left: nothing sent
    expect(status).to_have_text("没有要上传的照片。")
    assert len(reached) == sum(expected.values())

    # Removing an uploaded photo withdraws it from the township first: it needs the link.
    page.context.set_offline(True)
    first_list.first.get_by_role("button", name="删除").click()
    expect(first_list.first.get_by_role("alert")).to_have_text(
        "这张照片已上传，删除要先联网告诉乡镇：请联网后再删除"
    )
    expect(first_list).to_have_count(2)
    page.context.set_offline(False)
    first_list.nth(1).get_by_role("button", name="删除").click()
    expect(first_list).to_have_count(1)
    assert [u["sha256"] for u in server_uploads(page, draft)] == [kept[0]["sha256"]]

    problems = tab.problems
    assert not problems.page_errors and not problems.http_errors
    assert "chunks/1" in problems.failed_requests[0]
    assert len(problems.failed_requests) == 2 and "uploads" in problems.failed_requests[1]


def test_an_enrolled_phone_sends_photos_after_the_session_ended(
    open_tab: OpenTab, township_server: TownshipServer
) -> None:
    agent, name = "zhen.agent1", "刘大山"
    clerk = open_tab().page
    sign_in(clerk, township_server, "zhen.clerk", then="/agent/devices")
    clerk.get_by_label("村代办员").select_option(label=f"{name}（{agent}）")
    clerk.get_by_role("button", name="生成登记码").click()
    code = clerk.locator("[data-device-code]").inner_text().strip()

    tab = open_tab(width=412, height=915, mobile=True)
    page = tab.page
    sign_in(page, township_server, agent, then="/agent/enrol")
    enrol = "async ([url, code]) => { const me = await (await fetch('/api/me')).json(); " + (
        "await (await import(url)).enrol(me.id, code, '测试手机'); }"
    )
    page.evaluate(enrol, [static_url("js/device.js"), code])
    page.goto(township_server.url("/agent/new"))
    set_pin(page)
    fill_draft(page)
    png = FilePayload(name="x.png", mimeType="image/png", buffer=tiny_png(b"x", 400, 300))
    page.locator("[data-materials] input[type=file]").first.set_input_files(png)
    expect(page.locator("[data-photo-list] li")).to_have_count(1)

    page.context.clear_cookies()  # the session is gone; the vault stays open in this page
    sent: list[dict[str, str]] = []
    page.on("request", lambda r: sent.append(r.headers) if "/agent/uploads" in r.url else None)
    page.get_by_role("button", name="上传照片").click()
    expect(page.locator("[data-upload-status]")).to_have_text("照片已全部上传到乡镇（1 张）。")
    assert len(sent) == 2  # the declaration and its one chunk, no CSRF token fetched
    for headers in sent:
        assert headers["authorization"].startswith("YC-Device ") and "cookie" not in headers
    tab.problems.assert_clean()
