// The agent's home (/agent) and unlock (/agent/unlock) pages: the cached catalogue, which is
// public and shown even while the vault is locked, and the number of cases on the phone.
import { loadCatalogue, limitText } from "./catalog.js";
import { countDrafts } from "./drafts.js";

function status(root, session) {
  const el = root.querySelector("[data-agent-status]");
  if (!el) return;
  const who = session.user ? session.user.name : "未登录";
  const link = session.online ? "已联网" : "离线：可以继续办件，联网后再发送";
  el.textContent = `${who} · ${link}`;
}

export async function before(root, session) {
  status(root, session);
  const list = root.querySelector("[data-catalog-list]");
  if (!list) return;
  const note = root.querySelector("[data-catalog-status]");
  const catalogue = await loadCatalogue();
  if (!catalogue) {
    note.textContent = "还没有事项目录：请联网打开一次本页。";
    return;
  }
  note.textContent = `共 ${catalogue.items.length} 个事项（目录版本 ${catalogue.version}）`;
  list.replaceChildren(
    ...catalogue.items.map((item) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `/agent/new?item=${encodeURIComponent(item.id)}`;
      a.textContent = item.name;
      const small = document.createElement("small");
      small.className = "muted";
      small.textContent = ` 承诺时限 ${limitText(item.promised)} · ${item.materials.length} 项材料`;
      li.append(a, small);
      return li;
    }),
  );
  if (window.htmx) window.htmx.process(list); // boosted links: the vault stays open
}

export async function opened(root, user) {
  const count = root.querySelector("[data-draft-count]");
  if (count) count.textContent = `（${await countDrafts(user.id)}）`;
}
