// Strategies, one function each (STYLE.md §4); routes.js decides which request gets which.
// One cache per worker version ("yc-" + VERSION); activate (main.js) deletes the others.
// Nothing personal is ever written to it: only what the precache list names, the catalogue
// and the agent's page shells, which are the same for every user.
const CACHE = "yc-" + VERSION;
const OFFLINE_URL = "/offline";

/** Cache first: the cached copy if there is one, else the network (and keep an ok answer). */
async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

/** Stale while revalidate: the cached copy at once, refreshed in the background; with no copy,
 * wait for the network. Keyed by the path alone: the query (/agent/new?draft=…) is read by the
 * page's script, and an htmx request's headers do not matter (the shells answer the whole page
 * either way). A cached ETag makes the refresh conditional, and a 304 keeps the copy: the
 * catalogue costs a few hundred bytes when nothing changed. */
async function staleWhileRevalidate(request, event) {
  const cache = await caches.open(CACHE);
  const url = new URL(request.url);
  const key = new Request(url.origin + url.pathname);
  const hit = await cache.match(key, { ignoreVary: true });
  const refresh = revalidate(cache, key, hit);
  if (!hit) return refresh;
  event.waitUntil(refresh.catch(() => undefined)); // offline: keep serving the copy
  return hit;
}

async function revalidate(cache, key, hit) {
  const etag = hit && hit.headers.get("ETag");
  const headers = etag ? { "If-None-Match": etag } : {};
  const response = await fetch(key.url, { headers, credentials: "same-origin" });
  if (response.status === 304 && hit) return hit;
  if (response.ok && !response.redirected) await cache.put(key, response.clone());
  return response;
}

/** Network first, and never stored: offline, whatever the precache holds for this URL, else
 * the offline page for a page (navigation or htmx), else a network error. */
async function networkFirst(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(request, { ignoreVary: true });
    if (hit) return hit;
    const wantsPage = request.mode === "navigate" || request.headers.get("HX-Request") === "true";
    const offline = wantsPage && (await cache.match(OFFLINE_URL, { ignoreVary: true }));
    return offline || Response.error();
  }
}

/** Network only: the browser's own handling, for what must always be fresh or personal. */
function networkOnly(request) {
  return fetch(request);
}
