// Notifications in the worker (DESIGN.md §8): Web Push where it works, and the message centre
// checked on every sync, which is what a phone in mainland China has (no push service there).
// Both show one system notification, replaced by the next (one tag), with a fixed Chinese text:
// "您有 N 条未读消息" and a link on our site, never a word of the case; the page asks the server
// for the rest after sign-in. Uses outbox.js's helpers to find the agents' databases.
//
// Web Push (server/notify/push.py sends it) carries only {"count": <unread>, "link": "/path"}.
// The check on every sync: on Background Sync's `sync` (tag "yc-outbox", beside main.js's
// outbox flush: neither needs the other) and whenever a page says it has synced (message
// "notify-check", pwa/js/syncbar.js), GET /api/agent/notifications/unread for each agent
// enrolled on this phone, signed with the phone's device key (server/agent/device_auth.py: the
// session has long ended when a valley gets signal again), else with the session; it answers
// a count, the newest unread id and its link. What is newer than the newest id already
// announced on this phone is shown, where the user has allowed notifications. Notification ids
// grow across all users of a township, so one number ("announced", in the worker's own
// IndexedDB yc-worker) serves whoever signs in (a second agent's older unread ones are not
// announced: the badge shows them). A message with a port is answered {shown: true | false}.
// tests/browser/test_push_worker.py delivers pushes through DevTools and checks the sync path;
// no protocol method clicks a notification, so the click handler is checked by reading only.

const UNREAD_TAG = "yichuang-unread";
const WORKER_DB = "yc-worker";

/** A path on our site, else the message centre (a push or a record could say anything). */
function ownLink(link) {
  return typeof link === "string" && link.startsWith("/") && !link.startsWith("//") ? link : "/notifications";
}

function showUnread(count, link) {
  return self.registration.showNotification("一窗 · 新消息", {
    body: count > 0 ? `您有 ${count} 条未读消息，点击查看。` : "您有新消息，点击查看。",
    tag: UNREAD_TAG, // one notification, replaced by the next
    renotify: true,
    data: { link: ownLink(link) },
  });
}

/** The worker's own small store: `work(store)` in one transaction, resolved when durable. */
function workerState(mode, work) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(WORKER_DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore("state");
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const db = request.result;
      const tx = db.transaction("state", mode);
      const asked = work(tx.objectStore("state"));
      tx.oncomplete = () => {
        db.close();
        resolve(asked.result);
      };
      tx.onerror = tx.onabort = () => {
        db.close();
        reject(tx.error);
      };
    };
  });
}

const UNREAD_URL = "/api/agent/notifications/unread";
const SIGNED_LABEL = "yc-upload-v1"; // server/agent/device_auth.py signed_message
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** The enrolled phones' keys of the agents on this phone (outbox.js's helpers find them). */
async function enrolledDevices() {
  const found = [];
  for (const name of await agentDatabases()) {
    const db = await openExisting(name);
    if (!db) continue;
    if (db.objectStoreNames.contains("device")) {
      const rec = await idbRequest(db.transaction("device").objectStore("device").get("keys")).catch(() => null);
      if (rec && rec.signing && !rec.refused) found.push(rec);
    }
    db.close();
  }
  return found;
}

/** GET `path` signed with the device key: no session needed (it ends after 30 idle minutes). */
async function signedGet(device, path) {
  const empty = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(0))));
  const message = new TextEncoder().encode([SIGNED_LABEL, "GET", path, "", empty].join("\n"));
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, device.signing, message));
  return fetch(path, { credentials: "omit", cache: "no-store",
    headers: { Authorization: `YC-Device ${hex(device.keyId)}:${b64url(signature)}` } });
}

/** What each agent on this phone has unread: [{unread, newest, link}]; throws when offline. */
async function unreadNow() {
  const answers = [];
  for (const device of await enrolledDevices()) {
    const response = await signedGet(device, UNREAD_URL);
    if (response.ok) answers.push(await response.json());
  }
  if (!answers.length) { // no enrolled phone (yet): the session, if there is one
    const response = await fetch(UNREAD_URL, { credentials: "same-origin", cache: "no-store" });
    if (response.ok) answers.push(await response.json());
  }
  return answers;
}

/** Show what is new in the message centre; true when a notification was shown. */
async function checkNotifications() {
  if (!self.Notification || Notification.permission !== "granted") return false;
  let answers;
  try {
    answers = await unreadNow();
  } catch (error) {
    return false; // no link: the next sync checks again
  }
  const announced = Number(await workerState("readonly", (s) => s.get("announced")).catch(() => 0)) || 0;
  const fresh = answers.filter((a) => Number(a.newest) > announced).sort((a, b) => b.newest - a.newest);
  const newest = Math.max(announced, ...answers.map((a) => Number(a.newest) || 0));
  if (fresh.length) await showUnread(Number(fresh[0].unread) || 1, fresh[0].link);
  if (newest > announced) await workerState("readwrite", (s) => s.put(newest, "announced"));
  return fresh.length > 0;
}

self.addEventListener("sync", (event) => {
  if (event.tag === "yc-outbox") event.waitUntil(checkNotifications().catch(() => false));
});

self.addEventListener("message", (event) => {
  if (event.data !== "notify-check") return;
  const port = event.ports && event.ports[0];
  event.waitUntil(
    checkNotifications()
      .catch(() => false)
      .then((shown) => port && port.postMessage({ shown })),
  );
});

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = {}; // not JSON: still tell the user something is new (Chrome requires a notification)
  }
  const count = Number.isInteger(data.count) && data.count > 0 ? data.count : 0;
  event.waitUntil(showUnread(count, data.link));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const link = (event.notification.data && event.notification.data.link) || "/notifications";
  const target = new URL(link, self.location.origin).href;
  event.waitUntil(
    (async () => {
      // Tabs this worker controls (only those can be navigated from here): one already at the
      // link, else any; focused first, while the click still allows it, then sent to the link.
      const tabs = await self.clients.matchAll({ type: "window" });
      const tab = tabs.find((t) => t.url === target) || tabs[0];
      if (tab) {
        try {
          const focused = await tab.focus();
          if (focused.url !== target) await focused.navigate(target);
          return;
        } catch {
          // Closed meanwhile, or the browser refused: open a new tab below.
        }
      }
      await self.clients.openWindow(target);
    })(),
  );
});
