// Listeners only (STYLE.md §4): install fills this version's cache, activate drops the older
// ones, fetch hands each GET of our origin to the strategy its route names.
self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // A versioned URL names its bytes, so the copy the page has just loaded into the HTTP
      // cache is the right one (no second download); anything else is revalidated with the
      // server ("no-cache"), which costs a 304 when the page has just fetched it too.
      const mode = (url) => (url.includes("?v=") ? "default" : "no-cache");
      await cache.addAll(PRECACHE.map((url) => new Request(url, { cache: mode(url) })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("yc-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // posts go to the server as they are
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const strategy = route(url, request);
  if (strategy) event.respondWith(strategy(request, event));
});

// Background Sync (where the browser has it): send the agents' sealed outboxes; a rejection
// tells the browser to try again later.
self.addEventListener("sync", (event) => {
  if (event.tag === "yc-outbox") event.waitUntil(flushOutbox());
});

self.addEventListener("message", (event) => {
  if (event.data === "version") event.source.postMessage({ version: VERSION });
});
