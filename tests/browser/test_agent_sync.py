"""The agent's phone and the township, end to end in Chromium: a clerk shows a one-time code,
the phone enrols (keys made in WebCrypto), a case is finished offline, the browser restarts,
the PIN opens the vault, the link comes back, and the township holds the case with its photo
once however often the phone flushes; another agent on the same phone sees none of it.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, Playwright, expect

from server.templating import static_url
from tests.scan_files import tiny_png

from .conftest import (
    REPO,
    SERVER,
    START_TIMEOUT,
    STOP_TIMEOUT,
    Launch,
    OpenTab,
    Tab,
    TownshipServer,
    _health,
    cli,
    persistent,
)
from .test_agent_offline import lone_server, sign_in, wait_for_worker  # noqa: F401 (a fixture)
from .test_agent_vault import ID_NUMBER, ITEM, PHONE, fill_draft, set_pin, unlock
from .test_notifications import announce
from .test_push_worker import CHECK, UNREAD, shown_now, site_worker

AGENT, OTHER, CLERK = "zhen.agent3", "zhen.agent2", "zhen.clerk"
AGENT_NAME = "吴春生"
PIN = "258036"
NAME = "赵同步"  # this test's applicant, nobody else's


def first_page(context: BrowserContext) -> Page:
    return context.pages[0] if context.pages else context.new_page()


def photos_held(server: TownshipServer, name: str = NAME) -> int:
    """Photos attached to this applicant's case at the township."""
    with sqlite3.connect(server.data_dir / "yichuang.db") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM case_event"
            " JOIN case_record ON case_record.id = case_event.case_id"
            " WHERE case_record.applicant_name = ? AND case_event.kind = 'attach'",
            (name,),
        ).fetchone()
    return int(count)


def cases_held(server: TownshipServer, name: str = NAME) -> int:
    """Cases of this applicant the township opened from a phone (its own database)."""
    with sqlite3.connect(server.data_dir / "yichuang.db") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM agent_intake JOIN case_record"
            " ON case_record.id = agent_intake.case_id"
            " WHERE case_record.applicant_name = ? AND case_record.channel = 'village_agent'",
            (name,),
        ).fetchone()
    return int(count)


def device_code(
    browser: Browser, server: TownshipServer, agent: str = AGENT, name: str = AGENT_NAME
) -> str:
    """The clerk's page: choose the agent, make a code, read it (shown once, with a QR code)."""
    clerk = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = clerk.new_page()
    sign_in(page, server, CLERK, then="/agent/devices")
    page.get_by_label("村代办员").select_option(label=f"{name}（{agent}）")
    page.get_by_role("button", name="生成登记码").click()
    expect(page.get_by_alt_text("手机登记链接的二维码")).to_be_visible()
    code = page.locator("[data-device-code]").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code), code
    clerk.close()
    return code


def stop(server: TownshipServer) -> None:
    """No township at all: the truest offline (the browser's offline switch may not reach a
    restarted service worker, which would then send the outbox by Background Sync)."""
    server.process.terminate()
    server.process.wait(timeout=STOP_TIMEOUT)


def restart(server: TownshipServer) -> None:
    """The township again, same data and address (the agent's session cookie stays good)."""
    port = server.base_url.rsplit(":", 1)[1]
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen(
            [
                *SERVER,
                "--data",
                str(server.data_dir),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                port,
            ],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not _health(server.base_url):
        server.check_alive()
        assert time.monotonic() < deadline, server.log_tail()
        time.sleep(0.1)


def sync_now(page: Page) -> None:
    page.get_by_role("button", name="同步", exact=True).click()
    expect(page.locator("[data-sync-status]")).to_contain_text("已同步")


def test_a_case_finished_offline_reaches_the_township_once(
    playwright: Playwright,
    chromium_path: str,
    browser: Browser,
    tmp_path: Path,
    lone_server: TownshipServer,  # noqa: F811 (the fixture: a township this test stops)
) -> None:
    opened: list[BrowserContext] = []
    launch = persistent(playwright, chromium_path, tmp_path / "profile", opened)
    try:
        journey(launch, browser, lone_server)
    finally:
        for context in opened:
            context.close()
        if lone_server.process.poll() is None:
            lone_server.process.terminate()
            lone_server.process.wait(timeout=STOP_TIMEOUT)


def journey(launch: Launch, browser: Browser, server: TownshipServer) -> None:
    code = device_code(browser, server)

    context = launch()
    page = first_page(context)
    sign_in(page, server, AGENT)
    wait_for_worker(page)
    expect(page.locator("[data-sync-status]")).to_contain_text("还没有登记")
    page.goto(server.url(f"/agent/enrol#code={code}"))
    expect(page.get_by_label("登记码")).to_have_value(code)
    page.get_by_label("手机名称").fill("测试用红米")
    page.get_by_role("button", name="生成密钥并登记").click()
    expect(page.locator("[data-device-status]")).to_contain_text("登记成功")
    assert "#code" not in page.url  # the code leaves the address bar

    # Offline: the case is finished and sealed on the phone.
    stop(server)
    context.set_offline(True)
    page.goto(server.url("/agent/new"))
    set_pin(page, PIN)
    page.get_by_label("查找事项").fill("养老保险")
    page.locator("#f-item_id").select_option(label=ITEM)
    page.get_by_label("姓名或单位名称").fill(NAME)
    page.get_by_label("证件号码").fill(ID_NUMBER)
    page.get_by_label("手机号码").fill(PHONE)
    photo = FilePayload(name="IMG_1.png", mimeType="image/png", buffer=tiny_png(b"sync", 400, 300))
    page.locator("[data-materials] input[type=file]").first.set_input_files(photo)
    expect(page.locator("[data-photo-list] li")).to_have_count(1)
    page.get_by_role("button", name="完成，待发送").click()
    expect(page.locator("[data-intake-saved]")).to_contain_text("已完成，待发送")
    expect(page.locator("[data-sync-status]")).to_contain_text("离线")
    context.close()

    # The browser restarts, still offline; the PIN opens the vault and the case waits.
    context = launch()
    context.set_offline(True)
    page = first_page(context)
    page.goto(server.url("/agent/outbox"))
    unlock(page, PIN)
    entry = page.locator("[data-draft-list] li")
    expect(entry).to_have_count(1)
    expect(entry.locator(".tag")).to_have_text(re.compile("在手机上|已发送"))
    expect(page.locator("[data-sync-status]")).to_contain_text("离线")

    # The link comes back: the township opens the case, once, however often the phone flushes.
    assert cases_held(server) == 0
    restart(server)
    context.set_offline(False)
    sync_now(page)
    expect(entry.locator(".tag")).to_have_text("乡镇已收到")
    expect(entry).to_contain_text("流水号")
    assert (cases_held(server), photos_held(server)) == (1, 1)
    sync_now(page)
    sync_now(page)
    assert (cases_held(server), photos_held(server)) == (1, 1)
    expect(page.locator("[data-changes] li").first).to_contain_text("乡镇已收到")

    # Another agent on the same phone: their own vault, no cases, no device of the first.
    page.goto(server.url("/"))
    page.get_by_role("button", name=re.compile("^退出")).click()
    expect(page).to_have_url(re.compile(r"/signin"))
    sign_in(page, server, OTHER, then="/agent/outbox")
    set_pin(page, "470219")
    expect(page.locator("[data-draft-empty]")).to_be_visible()
    expect(page.locator("[data-draft-list] li")).to_have_count(0)
    expect(page.locator("[data-sync-status]")).to_contain_text("还没有登记")


def enrolled_phone(
    open_tab: OpenTab, browser: Browser, server: TownshipServer, phone: str
) -> tuple[Tab, dict[str, Any]]:
    """刘大山's phone, enrolled with a clerk's code, its PIN set and the vault open at
    /agent/outbox; with /api/me's answer."""
    code = device_code(browser, server, agent="zhen.agent1", name="刘大山")
    tab = open_tab(width=412, height=915, mobile=True)
    page = tab.page
    sign_in(page, server, "zhen.agent1", then="/agent/enrol")
    page.get_by_label("登记码").fill(code)
    page.get_by_label("手机名称").fill(phone)
    page.get_by_role("button", name="生成密钥并登记").click()
    expect(page.locator("[data-device-status]")).to_contain_text("登记成功")
    page.goto(server.url("/agent/outbox"))
    set_pin(page, PIN)
    expect(page.locator("[data-vault-gate]")).to_be_hidden()  # the vault is open
    return tab, page.evaluate("fetch('/api/me').then((r) => r.json())")


READY_CASE = """async ([url, userId, itemId]) => {
  // A finished case the form would have stopped (a wrong check digit), saved as the form saves.
  const drafts = await import(url);
  return drafts.saveDraft(userId, {
    state: "ready", item: { id: itemId, name: "测试事项" }, materials: [],
    applicant: { kind: "natural", name: "钱退回", id_type: "resident_id",
      id: "110105194912310021", phone: "", address: "" },
  });
}"""


def test_a_refusal_and_a_revoked_phone_are_explained_on_the_phone(
    open_tab: OpenTab, township_server: TownshipServer, browser: Browser
) -> None:
    server = township_server
    tab, me = enrolled_phone(open_tab, browser, server, "备用手机")
    page = tab.page
    item = page.evaluate("fetch('/api/catalog').then((r) => r.json())")["items"][0]["id"]
    page.evaluate(READY_CASE, [static_url("js/drafts.js"), me["id"], item])
    sync_now(page)
    entry = page.locator("[data-draft-list] li", has_text="钱退回")
    expect(entry.locator(".tag")).to_have_text("乡镇退回")
    expect(entry.locator(".error")).to_contain_text("身份证号码校验位不对")

    # The agent revokes this phone (lost, say): the township refuses it from then on.
    page.goto(server.url("/agent/devices"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("row", name=re.compile("备用手机")).get_by_role("button", name="吊销").click()
    expect(page.get_by_role("row", name=re.compile("备用手机"))).to_contain_text("已吊销")
    page.goto(server.url("/agent/outbox"))
    unlock(page, PIN)
    page.get_by_role("button", name="同步", exact=True).click()
    expect(page.locator("[data-sync-status]")).to_contain_text("已被吊销")
    tab.problems.assert_clean(allow_status=[403])


SEALED_TWICE = """async ([userId, itemId, name, idNumber]) => {
  // One finished case sealed twice, as when `yc:case-ready` and a start-up flush both find it
  // missing from the outbox: the first envelope is posted at the very moment the page flushes
  // the second (the worker's Background Sync and the page, say).
  const drafts = await import("/static/js/drafts.js");
  const idb = await import("/static/js/idb.js");
  const outbox = await import("/static/js/outbox.js");
  await drafts.saveDraft(userId, {
    state: "ready", item: { id: itemId, name: "测试事项" }, materials: [],
    applicant: { kind: "natural", name, id_type: "resident_id", id: idNumber,
      phone: "", address: "" },
  });
  const db = idb.userDb(userId);
  await outbox.queueReady(userId);
  const [first] = await idb.getAll(db, idb.OUTBOX);
  await idb.remove(db, idb.OUTBOX, first.id);
  await idb.remove(db, idb.CASES, first.id);
  await outbox.queueReady(userId);
  const [second] = await idb.getAll(db, idb.OUTBOX);
  const [posted] = await Promise.all([
    fetch("/api/agent/sync", { method: "POST", body: first.envelope,
      headers: { "Content-Type": "application/octet-stream" } }),
    outbox.flush(userId),
  ]);
  return { sameCase: first.caseId === second.caseId, twoEnvelopes: first.envelope.length > 0
    && String(first.envelope) !== String(second.envelope), status: posted.status };
}"""


def test_a_case_sealed_twice_at_once_is_opened_once(
    open_tab: OpenTab, township_server: TownshipServer, browser: Browser
) -> None:
    server, name = township_server, "孙两封"
    tab, me = enrolled_phone(open_tab, browser, server, "双封手机")
    page = tab.page
    items = page.evaluate("fetch('/api/catalog').then((r) => r.json())")["items"]
    (item,) = [i["id"] for i in items if i["name"] == ITEM]
    raced = page.evaluate(SEALED_TWICE, [me["id"], item, name, ID_NUMBER])
    assert (raced["twoEnvelopes"], raced["status"]) == (True, 200)  # fresh keys and nonces
    sync_now(page)
    entry = page.locator("[data-draft-list] li", has_text=name)
    expect(entry.locator(".tag")).to_have_text("乡镇已收到")
    sync_now(page)
    assert cases_held(server, name) == 1  # both name one case: the township opens it once
    assert raced["sameCase"]
    tab.problems.assert_clean()


def test_a_case_finished_after_its_photos_were_cleaned_up_brings_them_again(
    open_tab: OpenTab, township_server: TownshipServer, browser: Browser
) -> None:
    """The township removes uploads no case took within 30 days; the phone marked its photo
    sent long ago. Sending the case declares it again, and the photo goes up once more."""
    server, name = township_server, "周迟发"
    tab, me = enrolled_phone(open_tab, browser, server, "迟发手机")
    page = tab.page
    page.goto(server.url("/agent/new"))
    unlock(page, PIN)
    fill_draft(page)
    page.get_by_label("姓名或单位名称").fill(name)
    # (The phone re-encodes pictures: a grey one of another size, not another test's photo.)
    png = FilePayload(name="IMG_9.png", mimeType="image/png", buffer=tiny_png(b"late", 320, 240))
    page.locator("[data-materials] input[type=file]").first.set_input_files(png)
    expect(page.locator("[data-photo-list] li")).to_have_count(1)
    page.get_by_role("button", name="上传照片").click()
    expect(page.locator("[data-upload-status]")).to_have_text("照片已全部上传到乡镇（1 张）。")

    # Forty days pass on the server (not on the phone); the job removes the unsent upload.
    with sqlite3.connect(server.data_dir / "yichuang.db") as db:
        aged = db.execute(
            "UPDATE attachment_upload SET created_at = datetime('now', '-40 days'),"
            " completed_at = datetime('now', '-40 days'), touched_at = datetime('now', '-40 days')"
            " WHERE user_id = ? AND case_id IS NULL",
            (me["id"],),
        ).rowcount
    assert aged >= 1
    cli(server.data_dir, "notify", "--once")
    assert page.evaluate("fetch('/api/agent/uploads').then((r) => r.json())")["uploads"] == []

    # The link dies as the photo goes up again: the case arrives alone, and stays in the
    # outbox, its photo back on the phone's list of photos to send.
    chunks = "**/api/agent/uploads/*/chunks/*"
    page.route(chunks, lambda route: route.abort("internetdisconnected"))
    page.get_by_role("button", name="完成，待发送").click()
    expect(page.locator("[data-intake-saved]")).to_contain_text("已完成，待发送")
    sync_now(page)  # waits for the flush the finished case started, then one more
    assert (cases_held(server, name), photos_held(server, name)) == (1, 0)
    assert len(page.evaluate(OUTBOX_RECORDS, int(me["id"]))) == 1

    page.unroute(chunks)
    page.goto(server.url("/agent/outbox"))
    unlock(page, PIN)
    sync_now(page)
    expect(page.locator("[data-draft-list] li", has_text=name).locator(".tag")).to_have_text(
        "乡镇已收到"
    )
    assert (cases_held(server, name), photos_held(server, name)) == (1, 1)
    assert page.evaluate(OUTBOX_RECORDS, int(me["id"])) == []
    problems = tab.problems  # only the cut chunks failed (each also a console line)
    assert not problems.page_errors and not problems.http_errors
    assert problems.failed_requests and all("/chunks/" in f for f in problems.failed_requests)


def test_news_reaches_an_enrolled_phone_after_its_session_ended(
    open_tab: OpenTab, township_server: TownshipServer, browser: Browser
) -> None:
    """The session ends after 30 idle minutes; the valley gets signal hours later. Background
    Sync wakes the worker, which asks for the agent's news signed with the phone's key."""
    server = township_server
    tab, _ = enrolled_phone(open_tab, browser, server, "消息手机")
    page = tab.page
    page.context.grant_permissions(["notifications"], origin=server.base_url)
    worker = site_worker(page, server.base_url)
    worker.forget_earlier_news()

    page.context.clear_cookies()  # the session is gone; the phone keeps its keys
    assert page.evaluate("fetch('/api/me').then((r) => r.status)") == 401
    announce(server, "上报件结果已返回（测试）", user="zhen.agent1", link="/agent/outbox")
    worker.fire_sync()
    note = shown_now(worker)
    assert UNREAD.fullmatch(note["body"]) and note["data"] == {"link": "/agent/outbox"}, note
    assert page.evaluate(CHECK) is False  # told once
    tab.problems.assert_clean(allow_status=[401])


OUTBOX_RECORDS = """async (userId) => {
  const db = await new Promise((ok, no) => {
    const r = indexedDB.open(`yc-user-${userId}`); r.onsuccess = () => ok(r.result); r.onerror = no;
  });
  const all = await new Promise((ok) => {
    const r = db.transaction("outbox").objectStore("outbox").getAll();
    r.onsuccess = () => ok(r.result);
  });
  db.close();
  return all.map((rec) => ({ posted: rec.posted, answered: Boolean(rec.answer) }));
}"""


def test_background_sync_sends_the_outbox_with_no_page_open(
    playwright: Playwright,
    chromium_path: str,
    browser: Browser,
    tmp_path: Path,
    lone_server: TownshipServer,  # noqa: F811 (the fixture: a township this test stops)
) -> None:
    server = lone_server
    code = device_code(browser, server, agent="zhen.agent1", name="刘大山")
    opened: list[BrowserContext] = []
    context = persistent(playwright, chromium_path, tmp_path / "profile", opened)()
    try:
        page = first_page(context)
        sign_in(page, server, "zhen.agent1", then="/agent/enrol")
        wait_for_worker(page)
        page.get_by_label("登记码").fill(code)
        page.get_by_label("手机名称").fill("后台同步")
        page.get_by_role("button", name="生成密钥并登记").click()
        expect(page.locator("[data-device-status]")).to_contain_text("登记成功")
        me = page.evaluate("fetch('/api/me').then((r) => r.json())")
        stop(server)
        page.goto(server.url("/agent/new"))
        set_pin(page, PIN)
        page.get_by_label("查找事项").fill("养老保险")
        page.locator("#f-item_id").select_option(label=ITEM)
        page.get_by_label("姓名或单位名称").fill(NAME)
        page.get_by_label("证件号码").fill(ID_NUMBER)
        page.get_by_role("button", name="完成，待发送").click()
        expect(page.locator("[data-sync-status]")).to_contain_text("离线")
        while len(page.evaluate(OUTBOX_RECORDS, int(me["id"]))) != 1:
            page.wait_for_timeout(50)  # sealed into the outbox: then the page may go
        page.goto("about:blank")  # no page of ours runs: only the worker can send it now

        restart(server)
        cdp = context.new_cdp_session(page)
        registrations: list[dict[str, str]] = []
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: registrations.extend(event["registrations"]),
        )
        cdp.send("ServiceWorker.enable")
        while not any(r["scopeURL"].startswith(server.base_url) for r in registrations):
            page.wait_for_timeout(50)
        [ours] = [r for r in registrations if r["scopeURL"].startswith(server.base_url)][:1]
        sync_event = {
            "origin": server.base_url,
            "registrationId": ours["registrationId"],
            "tag": "yc-outbox",
            "lastChance": False,
        }
        page.goto(server.url("/static/css/app.css"))  # our origin (to read IndexedDB), no script
        # The browser fires `sync` again after a failure (here: while the township was down) on
        # its own schedule; DevTools fires it now, again until the worker has had its answer.
        answered = "async (id) => (await (" + OUTBOX_RECORDS + ")(id)).some((r) => r.answered)"
        deadline = time.monotonic() + START_TIMEOUT
        while not page.evaluate(answered, int(me["id"])):
            assert time.monotonic() < deadline, server.log_tail()
            cdp.send("ServiceWorker.dispatchSyncEvent", sync_event)
            page.wait_for_timeout(500)
        # Two sync events may have crossed: one request opens the case, the other hears
        # "pending"; wait for the township's commit.
        while cases_held(server) == 0:
            assert time.monotonic() < deadline, server.log_tail()
            page.wait_for_timeout(100)
        assert cases_held(server) == 1

        # The page opens the township's answer the worker kept, and the outbox empties.
        page.goto(server.url("/agent/outbox"))
        unlock(page, PIN)
        expect(page.locator("[data-draft-list] li .tag")).to_have_text("乡镇已收到")
        assert page.evaluate(OUTBOX_RECORDS, int(me["id"])) == []
        assert cases_held(server) == 1
    finally:
        for each in opened:
            each.close()
        if server.process.poll() is None:
            server.process.terminate()
            server.process.wait(timeout=STOP_TIMEOUT)
