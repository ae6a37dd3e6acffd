// /agent/outbox: the cases on this phone, decrypted after the PIN, newest first, each with its
// state (on the phone, sent, received by the township, accepted, relayed, decided, delivered,
// or sent back with the township's reason), and what changed since the agent last looked.
import { STATES, listDrafts } from "./drafts.js";
import * as idb from "./idb.js";

export const STAGES = {
  phone: "在手机上", sent: "已发送", received: "乡镇已收到", accepted: "已受理",
  relayed: "已上报", decided: "已办结", delivered: "已送达", refused: "乡镇退回",
};

function stageOf(draft, rec) {
  if (draft.state !== "ready" && (!rec || rec.stage === "refused")) return STATES[draft.state] || draft.state;
  return STAGES[rec ? rec.stage : "phone"];
}

const title = (draft) => `${draft.applicant.name || "（未填姓名）"} · ${draft.item ? draft.item.name : "（未选事项）"}`;

function line(draft, rec) {
  const li = document.createElement("li");
  li.dataset.caseStage = rec ? rec.stage : draft.state;
  const a = document.createElement("a");
  a.href = `/agent/new?draft=${encodeURIComponent(draft.id)}`;
  a.textContent = title(draft);
  const tag = document.createElement("span");
  tag.className = "tag";
  tag.textContent = stageOf(draft, rec);
  const when = document.createElement("small");
  when.className = "muted";
  const serial = rec && rec.serial ? ` 流水号 ${rec.serial}` : "";
  const detail = rec && rec.stateName && rec.stage !== "received" ? `（${rec.stateName}）` : "";
  when.textContent = `${detail}${serial} 更新于 ${new Date(draft.updated).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai" })}`;
  li.append(a, " ", tag, when);
  if (rec && rec.stage === "refused") {
    const why = document.createElement("p");
    why.className = "error";
    why.textContent = `乡镇退回：${rec.message}。请打开修改后重新点“完成，待发送”。`;
    li.append(why);
  }
  return li;
}

function changeLine(change, drafts) {
  const draft = drafts.get(change.id);
  const li = document.createElement("li");
  li.textContent = `${draft ? title(draft) : "（已删除的办件）"}：${STAGES[change.from] || change.from} → ${STAGES[change.to] || change.to}`;
  return li;
}

async function render(root, user) {
  const db = idb.userDb(user.id);
  const drafts = await listDrafts(user.id);
  const states = new Map((await idb.getAll(db, idb.CASES)).map((rec) => [rec.id, rec]));
  const list = root.querySelector("[data-draft-list]");
  list.replaceChildren(...drafts.map((draft) => line(draft, states.get(draft.id))));
  if (window.htmx) window.htmx.process(list); // boosted links: the vault stays open
  root.querySelector("[data-draft-empty]").hidden = drafts.length > 0;
  const sync = (await idb.get(db, idb.DEVICE, "sync")) || { changes: [] };
  const seen = sync.seenAt || 0;
  const fresh = (sync.changes || []).filter((change) => change.at > seen);
  const box = root.querySelector("[data-changes]");
  box.hidden = !fresh.length;
  const byId = new Map(drafts.map((draft) => [draft.id, draft]));
  box.querySelector("ul").replaceChildren(...fresh.map((change) => changeLine(change, byId)));
  const last = root.querySelector("[data-last-sync]");
  last.textContent = sync.lastSync
    ? `上次同步：${new Date(sync.lastSync).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai" })}`
    : "还没有和乡镇同步过。";
  box.querySelector("[data-changes-seen]").onclick = async () => {
    const now = (await idb.get(db, idb.DEVICE, "sync")) || {};
    await idb.put(db, idb.DEVICE, { ...now, seenAt: Date.now() }, "sync");
    box.hidden = true;
  };
}

export async function opened(root, user) {
  await render(root, user);
  if (!root.dataset.listening) {
    root.dataset.listening = "1";
    document.addEventListener("yc:synced", () => root.isConnected && render(root, user));
  }
}
