"""Bytes a village agent's phone sends for one typical case, without and with three photos.

Starts a real township node with demo data, then drives headless Chromium (Debian's
/usr/bin/chromium) through Playwright as an agent: sets a PIN, fills in a case on /agent/new
(an item, the applicant, two materials ticked) and takes three photos of the materials from
camera-sized pictures (3000×2000 JPEGs of a few MB, made in the page: gradients, shapes and
sensor noise, so they compress like photos of paper rather than like flat colour).

- The case: sealed in the page exactly as the outbox seals it (pwa/js/envelope.js: deflate,
  AES-256-GCM, HPKE to one recipient, ECDSA; payload `{type: "agent_sync", cases: [...]}` as
  pwa/js/outbox.js builds it), with throwaway keys: the envelope's length.
- The photos: what photos.js keeps (JPEG after shrinking), and what "上传照片" (upload.js)
  puts on the wire: every request to /api/agent/uploads, bodies and headers both ways, as
  Chromium counts them (Playwright's `request.sizes()`).

Figures only, no pass/fail: record them in docs/BENCHMARKS.md.

    .venv/bin/python bench/agent_case_bytes.py
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from pathlib import Path

from demo_node import demo_township, machine_line
from playwright.sync_api import FilePayload, Request, sync_playwright

from server.templating import static_url

REPO = Path(__file__).resolve().parents[1]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AGENT, PIN = "zhen.agent1", "258036"
ITEM = "城乡居民基本养老保险参保登记"

PICTURE = (REPO / "tests" / "browser" / "noisy_photo.js").read_text("utf-8")

# The case as the outbox seals it, with throwaway keys for the phone and the township.
SEALED_CASE = """async ([urls, draftId]) => {
  const [drafts, envelope, keys] = await Promise.all(urls.map((u) => import(u)));
  const me = await (await fetch("/api/me")).json();
  const draft = await drafts.loadDraft(me.id, draftId);
  const phone = await keys.generateKeys();
  const town = await keys.generateKeys();
  const one = { id: crypto.randomUUID(), draft: draft.id, item_id: draft.item.id,
    applicant: draft.applicant, materials: draft.materials };
  const payload = new TextEncoder().encode(JSON.stringify(
    { type: "agent_sync", cases: [one], sent_at: new Date().toISOString() }));
  const sealed = await envelope.seal(payload, {
    sender: { keyId: phone.keyId, signing: phone.signing },
    recipients: [{ keyId: town.keyId, receiving: town.receivingPoint }],
  });
  return { json: payload.length, sealed: sealed.length };
}"""

PHOTO_SIZES = """async ([url, draftId]) => {
  const photos = await import(url);
  const me = await (await fetch("/api/me")).json();
  return (await photos.listPhotos(me.id, draftId)).map((p) => p.size);
}"""


def main() -> None:
    with demo_township() as node, sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(
            locale="zh-CN", viewport={"width": 412, "height": 915}, is_mobile=True
        )
        page = context.new_page()
        page.goto(f"{node.base_url}/signin?next=/agent/new")
        page.get_by_label("用户名或手机号").fill(AGENT)
        page.get_by_label("密码", exact=True).fill(node.logins[AGENT])
        page.get_by_role("button", name="登录").click()
        page.get_by_label("新 PIN 码").fill(PIN)
        page.get_by_label("再输一次").fill(PIN)
        page.get_by_role("button", name="设置并解锁").click()
        page.get_by_label("查找事项").fill("养老保险")
        page.locator("#f-item_id").select_option(label=ITEM)
        page.get_by_label("姓名或单位名称").fill("张三丰")
        page.get_by_label("证件号码").fill("11010519491231002X")
        page.get_by_label("手机号码").fill("13912345678")
        page.get_by_label("地址").fill("青山镇石桥村五组 12 号")
        ticks = page.locator("[data-materials] input[name=original]")
        for n in range(min(2, ticks.count())):
            ticks.nth(n).check()
        page.get_by_role("button", name="保存草稿").click()
        page.locator("[data-intake-saved]").wait_for()
        draft = re.search(r"draft=([0-9a-f]+)", page.url)
        if draft is None:
            raise SystemExit(f"the draft was not saved: {page.url}")
        draft_id = draft[1]
        cameras = page.locator("[data-materials] input[type=file]")
        for n in range(3):
            picture = base64.b64decode(page.evaluate(PICTURE, n + 1))
            file = FilePayload(name=f"IMG_{n}.jpg", mimeType="image/jpeg", buffer=picture)
            cameras.nth(min(n, cameras.count() - 1)).set_input_files(file)
            page.locator("[data-photo-list] li").nth(n).wait_for()

        case = page.evaluate(
            SEALED_CASE,
            [[static_url(f"js/{m}.js") for m in ("drafts", "envelope", "keys")], draft_id],
        )
        kept = page.evaluate(PHOTO_SIZES, [static_url("js/photos.js"), draft_id])

        requests: list[Request] = []
        page.on(
            "requestfinished",
            lambda r: requests.append(r) if "/api/agent/uploads" in r.url else None,
        )
        page.get_by_role("button", name="上传照片").click()
        status = page.locator("[data-upload-status]")
        status.filter(has_text="照片已全部上传到乡镇").wait_for(timeout=60_000)
        kinds: Counter[str] = Counter()
        up = down = bodies = 0
        for request in requests:
            sizes = request.sizes()
            kinds[request.method] += 1
            up += sizes["requestBodySize"] + sizes["requestHeadersSize"]
            down += sizes["responseBodySize"] + sizes["responseHeadersSize"]
            bodies += sizes["requestBodySize"]
        browser.close()

    wire = up + down
    per_request = (wire - bodies) / max(1, len(requests))
    print(machine_line(f"Chromium headless, demo township, item {ITEM}"))
    print("| what | bytes |")
    print("|---|---:|")
    print(f"| the case as JSON (clear) | {case['json']:,} |")
    print(f"| the case sealed (the envelope the outbox posts) | {case['sealed']:,} |")
    shown = " + ".join(f"{size:,}" for size in kept)
    print(f"| three photos as kept (JPEG after shrinking): {shown} | {sum(kept):,} |")
    listing = ", ".join(f"{count} {method}" for method, count in sorted(kinds.items()))
    print(f"| three photos on the wire ({listing}): up {up:,}, down {down:,} | {wire:,} |")
    print(f"| the case with three photos (envelope + uploads) | {case['sealed'] + wire:,} |")
    print(f"\nheaders and answers per upload request: {per_request:,.0f} B on average")


if __name__ == "__main__":
    main()
