// Notifications in the worker (DESIGN.md §8): Web Push where it works, and the message centre
// checked on every sync, which is what a phone in mainland China has (no push service there).
// Both show one system notification, replaced by the next (one tag), with a fixed Chinese text:
// "您有 N 条未读消息" and a link on our site, never a word of the case; the page asks the server
// for the rest after sign-in. Self-contained: uses nothing from the other parts of /sw.js.
//
// Web Push (server/notify/push.py sends it) carries only {"count": <unread>, "link": "/path"}.
// The check on every sync: after Background Sync's `sync` (tag "yc-outbox") and whenever a page
// says it has synced (message "notify-check", pwa/js/syncbar.js), GET /api/notifications with
// the session; the unread ones newer than the newest already announced on this phone are shown,
// where the user has allowed notifications. Notification ids grow across all users of a
// township, so one number ("announced", in the worker's own IndexedDB yc-worker) serves
// whoever signs in. A message with a port is answered {shown: true | false} (for the tests).
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

/** Show what is new in the message centre; true when a notification was shown. */
async function checkNotifications() {
  if (!self.Notification || Notification.permission !== "granted") return false;
  let response;
  try {
    response = await fetch("/api/notifications", {
      credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
    });
  } catch (error) {
    return false; // no link: the next sync checks again
  }
  if (!response.ok) return false; // signed out: nobody to tell
  const list = await response.json().catch(() => null);
  if (!list || !Array.isArray(list.items)) return false;
  const announced = Number(await workerState("readonly", (s) => s.get("announced")).catch(() => 0)) || 0;
  const fresh = list.items.filter((n) => !n.read && Number(n.id) > announced);
  const newest = Math.max(announced, ...list.items.map((n) => Number(n.id) || 0));
  if (fresh.length) await showUnread(Number(list.unread) || fresh.length, fresh[0].link);
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
