// Web Push (an enhancement, DESIGN.md §8; server/notify/push.py sends it). A push carries only
// {"count": <unread>, "link": "/path"}: no personal data. It shows a fixed Chinese text and, on
// a click, focuses an open tab of ours (or opens one) at the link; the page asks the server for
// the rest after sign-in. Self-contained: uses nothing from the other parts of /sw.js.

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
      const tabs = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const tab of tabs) {
        if (new URL(tab.url).origin !== self.location.origin) continue;
        try {
          const focused = await tab.focus();
          await focused.navigate(target);
          return;
        } catch {
          // An uncontrolled tab cannot be navigated from here: open a new one below.
        }
      }
      await self.clients.openWindow(target);
    })(),
  );
});
