// The "同步" bar in every /agent page's header: the outbox is flushed on start, on `online`,
// every minute, when a case is finished, on the button, and by Background Sync where the
// browser has it (the worker sends the sealed envelopes even with no page open). A <progress>
// shows the flush; where Background Sync, persistent storage or system notifications are
// missing, the bar says what the app does instead. After each flush the worker checks the
// message centre (pwa/sw/push.js).
import { flush, queueReady, waiting } from "./outbox.js";

const TIMER_MS = 60 * 1000;
const TAG = "yc-outbox";
let mounted = null; // { userId, timer }

const $ = (selector) => document.querySelector(selector);

async function registerBackgroundSync() {
  if (!("serviceWorker" in navigator)) return false;
  const registration = await navigator.serviceWorker.ready;
  if (!registration.sync) return false;
  await registration.sync.register(TAG).catch(() => undefined);
  return true;
}

async function fallbacks() {
  const notes = [];
  const hasSync = "serviceWorker" in navigator && "SyncManager" in window;
  if (!hasSync) notes.push("本浏览器不支持后台同步：打开本应用时、联网时和每分钟自动发送，也可以点“同步”。");
  let persisted = false;
  if (navigator.storage && navigator.storage.persist) {
    persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist().catch(() => false));
  }
  if (!persisted) notes.push("浏览器没有保证长期保存本机数据：请不要清除浏览器数据，并尽快联网发送办件。");
  if (!("Notification" in window)) notes.push("本浏览器不能弹出系统通知：新消息请看页面上方的“消息”。");
  else if (Notification.permission !== "granted") notes.push("未允许系统通知：新消息只在页面上方的“消息”里显示（可在消息设置中开启）。");
  return notes;
}

function show(text, link) {
  const status = $("[data-sync-status]");
  if (!status) return;
  status.textContent = text;
  if (link) {
    const a = Object.assign(document.createElement("a"), { href: link.href, textContent: link.text });
    status.append(" ", a);
  }
}

const time = () => new Date().toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });

/** Flush now and say how it went. */
export async function syncNow() {
  if (!mounted) return null;
  const { userId } = mounted;
  const bar = $("[data-sync-progress]");
  const button = $("[data-sync-now]");
  if (button) button.disabled = true;
  if (bar) Object.assign(bar, { hidden: false, value: 0, max: 1 });
  show("正在同步…");
  let result;
  try {
    result = await flush(userId, ({ done, total }) => {
      if (bar) Object.assign(bar, { value: done, max: total });
      show(`正在同步 ${done}/${total}…`);
    });
  } catch (error) {
    result = { state: "error", detail: String(error.message || error) };
  } finally {
    if (button) button.disabled = false;
    if (bar) bar.hidden = true;
  }
  const left = await waiting(userId);
  if (result.state === "done") {
    const changed = result.changes.length ? `，${result.changes.length} 个办件状态有变化` : "";
    const catalogue = result.catalogueChanged ? "，事项目录已更新" : "";
    const photo = result.photoProblem ? `照片未能上传：${result.photoProblem}` : "";
    show(`${time()} 已同步：发送 ${result.sent} 个办件${changed}${catalogue}${left ? `，还有 ${left} 个待发送` : ""}。${photo}`,
      result.changes.length ? { href: "/agent/outbox", text: "查看" } : null);
  } else if (result.state === "offline") {
    show(`离线：${left} 个办件加密保存在本机，联网后自动发送。`);
  } else if (result.state === "no-device") {
    show("本机还没有登记，办件先加密保存在手机上。", { href: "/agent/enrol", text: "登记本机" });
  } else if (result.state === "refused") {
    show(`乡镇拒收：${result.detail}`, { href: "/agent/enrol", text: "重新登记本机" });
  } else {
    show(`同步出错：${result.detail}；办件仍保存在本机，稍后会再试。`);
  }
  // Every sync also checks the message centre: the worker shows what is new as a system
  // notification where allowed (pwa/sw/push.js), the way a phone without push hears of results.
  const worker = "serviceWorker" in navigator && navigator.serviceWorker.controller;
  if (worker && result.state !== "offline") worker.postMessage("notify-check");
  document.dispatchEvent(new CustomEvent("yc:synced", { detail: result }));
  return result;
}

/** Show the bar for `user`; the timer and the first flush start once per agent. */
export async function mount(user) {
  const barEl = $("[data-sync-bar]");
  if (!user || !barEl) return;
  const fresh = !mounted || mounted.userId !== user.id;
  if (fresh) {
    if (mounted) clearInterval(mounted.timer);
    mounted = { userId: user.id, timer: setInterval(() => navigator.onLine !== false && syncNow(), TIMER_MS) };
  }
  barEl.hidden = false; // a boosted navigation brings a new header: wire it up again
  const button = $("[data-sync-now]");
  if (button) button.onclick = () => syncNow();
  const notes = await fallbacks();
  const note = $("[data-sync-fallback]");
  if (note) Object.assign(note, { hidden: !notes.length, textContent: notes.join(" ") });
  if (fresh) syncNow();
}

/** The vault opened or a case was finished: seal what is ready, then send. */
export async function caseReady() {
  if (!mounted) return;
  if ((await queueReady(mounted.userId).catch(() => 0)) > 0) await registerBackgroundSync().catch(() => false);
  syncNow();
}

window.addEventListener("online", () => syncNow());
document.addEventListener("yc:case-ready", () => caseReady());
