// Web Push (an enhancement, DESIGN.md §8; server/notify/push.py sends it). A push carries only
// {"count": <unread>, "link": "/path"}: no personal data. It shows a fixed Chinese text and, on
// a click, focuses an open tab of ours (or opens one) at the link; the page asks the server for
// the rest after sign-in. Self-contained: uses nothing from the other parts of /sw.js.
// tests/browser/test_push_worker.py delivers pushes through DevTools; no protocol method clicks
// a notification, so the click handler is checked by reading only.

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = {}; // not JSON: still tell the user something is new (Chrome requires a notification)
  }
  const count = Number.isInteger(data.count) && data.count > 0 ? data.count : 0;
  const link =
    typeof data.link === "string" && data.link.startsWith("/") && !data.link.startsWith("//")
      ? data.link
      : "/notifications";
  event.waitUntil(
    self.registration.showNotification("一窗 · 新消息", {
      body: count ? `您有 ${count} 条未读消息，点击查看。` : "您有新消息，点击查看。",
      tag: "yichuang-unread", // one notification, replaced by the next
      renotify: true,
      data: { link },
    }),
  );
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
