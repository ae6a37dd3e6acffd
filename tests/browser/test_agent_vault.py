"""The agent's vault in Chromium: a draft case saved through it leaves no applicant data in
IndexedDB (read raw, every database, store, key and value), opens again after a browser
restart with the PIN, wrong PINs back off and five seal it until the township re-enrols the
phone (a clerk's one-time code) and the agent sets a new PIN, and another agent signing in on
the same phone sees nothing and leaves the first agent's key out of memory.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect

from server.templating import static_url

from .conftest import Launch, OpenTab, TownshipServer
from .test_agent_offline import sign_in, wait_for_worker

AGENT, OTHER = "zhen.agent1", "zhen.agent2"
PIN, WRONG, NEW_PIN = "258036", "111112", "604817"
NAME, ID_NUMBER, PHONE = "张三丰", "11010519491231002X", "13912345678"
ADDRESS = "青山镇石桥村五组 12 号"
ITEM = "城乡居民基本养老保险参保登记"

# Everything the origin keeps in IndexedDB, Cache Storage and web storage, as text: strings
# as they are, buffers as hex and as UTF-8 (with replacement), CryptoKeys by their type.
DUMP = """async () => {
  const text = [];
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const walk = (value) => {
    if (value === null || value === undefined) return;
    if (typeof value === "string" || typeof value === "number") {
      text.push(String(value));
      return;
    }
    if (value instanceof CryptoKey) { text.push(`[CryptoKey ${value.type}]`); return; }
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
      const bytes = new Uint8Array(value.buffer || value, value.byteOffset || 0, value.byteLength);
      text.push(hex(bytes), new TextDecoder().decode(bytes));
      return;
    }
    if (typeof value !== "object") return;
    for (const [k, v] of Object.entries(value)) {
      text.push(k);
      walk(v);
    }
  };
  const databases = await indexedDB.databases();
  for (const info of databases) {
    const db = await new Promise((ok, no) => {
      const r = indexedDB.open(info.name); r.onsuccess = () => ok(r.result); r.onerror = no;
    });
    text.push(`db:${info.name}`);
    for (const store of db.objectStoreNames) {
      const tx = db.transaction(store);
      const all = (m) => new Promise((ok) => {
        const r = tx.objectStore(store)[m]();
        r.onsuccess = () => ok(r.result);
      });
      text.push(`store:${store}`);
      walk(await all("getAllKeys"));
      walk(await all("getAll"));
    }
    db.close();
  }
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) text.push(await (await cache.match(request)).text());
  }
  walk({ ...localStorage });
  walk({ ...sessionStorage });
  return { text: text.join("\\n"), databases: databases.map((d) => d.name) };
}"""


def first_page(context: BrowserContext) -> Page:
    return context.pages[0] if context.pages else context.new_page()


def set_pin(page: Page, pin: str = PIN) -> None:
    page.get_by_label("新 PIN 码").fill(pin)
    page.get_by_label("再输一次").fill(pin)
    page.get_by_role("button", name="设置并解锁").click()


def unlock(page: Page, pin: str) -> None:
    page.get_by_label("PIN 码", exact=True).fill(pin)
    page.get_by_role("button", name="解锁").click()


def fill_draft(page: Page) -> None:
    page.get_by_label("查找事项").fill("养老保险")
    page.locator("#f-item_id").select_option(label=ITEM)
    page.get_by_label("姓名或单位名称").fill(NAME)
    page.get_by_label("证件号码").fill(ID_NUMBER)
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_label("地址").fill(ADDRESS)
    page.locator("[data-materials] input[name=original]").first.check()


def vault_module(page: Page, expression: str) -> Any:
    script = f"async (url) => {{ const vault = await import(url); return {expression}; }}"
    return page.evaluate(script, static_url("js/vault.js"))


def test_a_draft_is_kept_encrypted_and_opens_after_a_restart_with_the_pin(
    launch: Launch, township_server: TownshipServer
) -> None:
    context = launch()
    page = first_page(context)
    sign_in(page, township_server, AGENT, then="/agent/new")
    first = user_id(page, AGENT)
    wait_for_worker(page)
    expect(page.get_by_role("heading", name="设置 PIN 码")).to_be_visible()
    set_pin(page, "123456")
    expect(page.locator("[data-pin-message]")).to_have_text("PIN 码太容易猜到，请换一个")
    set_pin(page)
    fill_draft(page)
    page.get_by_label("手机号码").fill("1391234567")
    page.get_by_label("地址").focus()  # leaving the field checks it, as the window would
    expect(page.locator("#e-applicant_phone")).to_have_text(
        "手机号码应为 11 位数字，现为 10 位，请核对"
    )
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_role("button", name="保存草稿").click()
    expect(page.locator("[data-intake-saved]")).to_have_text("草稿已加密保存在本机。")
    expect(page.locator("#e-applicant_phone")).to_have_text("")

    dump = page.evaluate(DUMP)
    assert "yc-user-" in " ".join(dump["databases"])
    assert "store:drafts" in dump["text"] and "[CryptoKey secret]" in dump["text"]
    for secret in (NAME, ID_NUMBER, PHONE, ADDRESS):
        assert secret not in dump["text"], secret
        assert secret.encode().hex() not in dump["text"], secret
    context.close()

    # A restart: the page's memory is gone, the PIN opens the draft again.
    context = launch()
    page = first_page(context)
    page.goto(township_server.url("/agent/outbox"))
    expect(page.get_by_role("heading", name="输入 PIN 码解锁")).to_be_visible()
    unlock(page, WRONG)
    expect(page.locator("[data-pin-message]")).to_have_text(
        "PIN 码不对，还可以再试 4 次；请 1 秒后再试"
    )
    unlock(page, PIN)  # at once: refused before the PIN is even tried
    expect(page.locator("[data-pin-message]")).to_have_text("请 1 秒后再试")
    page.wait_for_timeout(1100)
    unlock(page, PIN)
    entry = page.locator("[data-draft-list] li")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(f"{NAME} · {ITEM}")
    expect(entry.locator(".tag")).to_have_text("草稿")
    entry.get_by_role("link").click()  # boosted: the vault stays open
    expect(page.get_by_label("证件号码")).to_have_value(ID_NUMBER)
    expect(page.locator("#f-item_id option:checked")).to_have_text(ITEM)
    page.get_by_role("button", name="完成，待发送").click()
    expect(page.locator("[data-intake-saved]")).to_contain_text("已完成，待发送")

    # Another agent on the same phone, every step a boosted navigation so that the page's
    # memory lives on: a PIN of their own, none of the first agent's cases, and the first
    # agent's key has left memory.
    assert vault_module(page, f"vault.unlockedFor({first})") is True
    page.get_by_role("link", name="网上办事大厅").click()
    page.wait_for_url(re.compile(r":\d+/($|signin)"))
    signout = page.get_by_role("button", name=re.compile("^退出"))
    if signout.count():  # the session cookie may not have outlived the browser restart
        signout.click()
    expect(page).to_have_url(re.compile(r"/signin"))
    page.get_by_label("用户名或手机号").fill(OTHER)
    page.get_by_label("密码", exact=True).fill(township_server.logins[OTHER])
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="离线办件").click()
    expect(page).to_have_url(township_server.url("/agent"))
    assert vault_module(page, f"vault.unlockedFor({first})") is False
    page.get_by_role("link", name="手机上的办件").first.click()
    expect(page.get_by_role("heading", name="设置 PIN 码")).to_be_visible()
    set_pin(page, "470219")
    expect(page.locator("[data-draft-empty]")).to_be_visible()
    expect(page.locator("[data-draft-list] li")).to_have_count(0)
    other = user_id(page, OTHER)
    assert vault_module(page, f"[vault.unlockedFor({first}), vault.unlockedFor({other})]") == [
        False,
        True,
    ]


def user_id(page: Page, login: str) -> int:
    me = page.evaluate("fetch('/api/me').then((r) => r.json())")
    assert me["username"] == login
    return int(me["id"])


def test_five_wrong_pins_seal_the_vault_until_the_township_enrols_the_phone_again(
    open_tab: OpenTab, township_server: TownshipServer, browser: Browser
) -> None:
    # Imported here: test_agent_sync imports this module's helpers at its top.
    from .test_agent_sync import device_code

    tab = open_tab(width=412, height=915, mobile=True)
    page = tab.page
    sign_in(page, township_server, "zhen.agent3", then="/agent/new")
    set_pin(page)
    fill_draft(page)
    page.get_by_role("button", name="保存草稿").click()
    expect(page.locator("[data-intake-saved]")).to_be_visible()
    page.goto(township_server.url("/agent/unlock"))
    for left in (4, 3, 2, 1):
        unlock(page, WRONG)
        wait = 2 ** (4 - left)
        expect(page.locator("[data-pin-message]")).to_have_text(
            f"PIN 码不对，还可以再试 {left} 次；请 {wait} 秒后再试"
        )
        page.wait_for_timeout(wait * 1000 + 100)
    unlock(page, WRONG)
    expect(page.locator("[data-pin-sealed]")).to_be_visible()
    page.reload()
    expect(page.locator("[data-pin-sealed]")).to_be_visible()
    expect(page.get_by_role("button", name="解锁")).to_be_hidden()
    assert NAME not in page.evaluate(DUMP)["text"]
    kept = page.evaluate(
        """(name) => new Promise((ok) => {
          const r = indexedDB.open(name);
          r.onsuccess = () => {
            const q = r.result.transaction("drafts").objectStore("drafts").count();
            q.onsuccess = () => ok(q.result);
          };
        })""",
        f"yc-user-{user_id(page, 'zhen.agent3')}",
    )
    assert kept == 1  # sealed, not deleted

    # Nothing but a real enrolment answer reopens it: a made-up one is refused.
    uid = user_id(page, "zhen.agent3")
    forged = f"await vault.recoverAfterEnrolment({uid}, new Response('{{}}', {{ status: 200 }}))"
    assert vault_module(page, forged) is None
    page.reload()
    expect(page.locator("[data-pin-sealed]")).to_be_visible()

    # The clerk gives a one-time code, the phone enrols again, the agent sets a new PIN: the
    # same data key, so the draft opens with its applicant.
    code = device_code(browser, township_server)
    page.locator("[data-pin-sealed]").get_by_role("link", name="登记本机").click()
    expect(page.locator("[data-vault-sealed-note]")).to_be_visible()
    page.get_by_label("登记码").fill(code)
    page.get_by_label("手机名称").fill("封存后重新登记")
    page.get_by_role("button", name="生成密钥并登记").click()
    expect(page.locator("[data-device-status]")).to_contain_text("登记成功")
    set_pin(page, "123456")
    expect(page.locator("[data-reopen-message]")).to_have_text("PIN 码太容易猜到，请换一个")
    set_pin(page, NEW_PIN)
    reopened = page.locator("[data-vault-reopened]")
    expect(reopened).to_be_visible()
    reopened.get_by_role("link").click()  # boosted: the vault stays open
    entry = page.locator("[data-draft-list] li")
    expect(entry).to_contain_text(f"{NAME} · {ITEM}")
    entry.get_by_role("link").click()
    expect(page.get_by_label("姓名或单位名称")).to_have_value(NAME)

    # A fresh page: the new PIN, and wrong PINs are counted from zero again. (The phone is
    # enrolled now and syncs when the vault opens: let that finish rather than abort it.)
    expect(page.locator("[data-sync-status]")).to_contain_text("已同步")
    page.wait_for_load_state("networkidle")
    page.goto(township_server.url("/agent/unlock"))
    unlock(page, WRONG)
    expect(page.locator("[data-pin-message]")).to_have_text(
        "PIN 码不对，还可以再试 4 次；请 1 秒后再试"
    )
    page.wait_for_timeout(1100)
    unlock(page, PIN)  # the old PIN is gone with the old wrapping
    expect(page.locator("[data-pin-message]")).to_have_text(
        "PIN 码不对，还可以再试 3 次；请 2 秒后再试"
    )
    page.wait_for_timeout(2100)
    unlock(page, NEW_PIN)
    expect(page.locator("[data-vault-gate]")).to_be_hidden()
    tab.problems.assert_clean()
