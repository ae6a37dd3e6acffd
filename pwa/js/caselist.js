// /agent/outbox: the cases on this phone, decrypted after the PIN, newest first. Sending them
// comes with the outbox (next step); for now each shows its state on the phone.
import { STATES, listDrafts } from "./drafts.js";

function line(draft) {
  const li = document.createElement("li");
  const a = document.createElement("a");
  a.href = `/agent/new?draft=${encodeURIComponent(draft.id)}`;
  a.textContent = `${draft.applicant.name || "（未填姓名）"} · ${draft.item ? draft.item.name : "（未选事项）"}`;
  const tag = document.createElement("span");
  tag.className = "tag";
  tag.textContent = STATES[draft.state] || draft.state;
  const when = document.createElement("small");
  when.className = "muted";
  when.textContent = ` 更新于 ${new Date(draft.updated).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai" })}`;
  li.append(a, " ", tag, when);
  return li;
}

export async function opened(root, user) {
  const drafts = await listDrafts(user.id);
  const list = root.querySelector("[data-draft-list]");
  list.replaceChildren(...drafts.map(line));
  if (window.htmx) window.htmx.process(list); // boosted links: the vault stays open
  root.querySelector("[data-draft-empty]").hidden = drafts.length > 0;
}
