// The route table: the first line whose test matches a GET to our own origin decides.
// Each line names its strategy and why. Rule: a response that may carry personal data (case
// pages, papers, lists, /api/me, sync) or a session's CSRF token is never cached.
const SHELLS = new Set(["/agent", "/agent/new", "/agent/outbox", "/agent/unlock", OFFLINE_URL]);

const ROUTES = [
  // Server-sent events (the notification badge): not intercepted (null), the stream goes
  // straight to the page; through the worker it would only keep the worker awake.
  [(url, request) => (request.headers.get("Accept") || "").includes("text/event-stream"), null],
  // /static/…?v=<hash>: cache first. The URL names the content, so a copy is never stale.
  [(url) => url.pathname.startsWith("/static/") && url.searchParams.has("v"), cacheFirst],
  // The catalogue: stale-while-revalidate with its ETag; read offline, refreshed (304) online.
  [(url) => url.pathname === "/api/catalog", staleWhileRevalidate],
  // The agent's pages and the offline page: cache first with background revalidation (SWR).
  // Static shells, the same for everyone; the agent's data is rendered from IndexedDB.
  [(url) => SHELLS.has(url.pathname), staleWhileRevalidate],
  // The worker script and the manifest: network only; the browser checks them itself.
  [(url) => url.pathname === "/sw.js" || url.pathname === "/manifest.webmanifest", networkOnly],
  // Every other API call (/api/me, sync, …): network only; answers name users or carry cases.
  [(url) => url.pathname.startsWith("/api/"), networkOnly],
  // Every other page (case pages, papers, lists, sign-in, admin): network first, never stored
  // (personal data or a session's token); offline, the Chinese offline page.
  [() => true, networkFirst],
];

/** The strategy for a GET of our origin, or null to leave the request alone. */
function route(url, request) {
  for (const [test, strategy] of ROUTES) if (test(url, request)) return strategy;
  return networkOnly;
}
