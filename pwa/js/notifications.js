// The unread badge in the header (消息 N): live over server-sent events, polling when they fail.
//
// Attaches to the element with data-notify-stream (the header's 消息 link, which also names
// data-notify-count, the JSON count) and re-initialises on htmx:load: a boosted navigation
// swaps the header with the page, and one stream serves every page of the tab. Without
// JavaScript the badge is simply right on every page the server renders.
//
// EventSource reconnects by itself after a dropped connection (the server also ends each
// stream after a few minutes). When it gives up for good (readyState CLOSED: no stream, e.g.
// the session ended and the sign-in page came back) the module polls the count instead, and
// stops polling once the server says nobody is signed in.

const POLL_MS = 30000;

/** @type {EventSource | null} */
let source = null;
/** @type {number | null} */
let timer = null;
/** @type {string | null} */
let running = null;

/** @param {number} count */
function show(count) {
  const badge = document.getElementById("notify-count");
  if (!badge || !Number.isInteger(count)) return;
  badge.textContent = String(count);
  badge.hidden = count === 0;
  badge.title = `${count} 条未读消息`;
}

function stop() {
  if (source) source.close();
  if (timer !== null) clearInterval(timer);
  source = null;
  timer = null;
  running = null;
}

/** @param {string} url */
async function poll(url) {
  try {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.status === 401 || response.status === 403) {
      stop();
      return;
    }
    if (response.ok) show((await response.json()).count);
  } catch {
    // Offline or the server restarting: the next tick tries again.
  }
}

/** @param {string} url */
function startPolling(url) {
  if (timer !== null) return;
  poll(url);
  timer = window.setInterval(() => poll(url), POLL_MS);
}

/** @param {HTMLElement} link */
function attach(link) {
  const streamUrl = link.dataset.notifyStream || "";
  const countUrl = link.dataset.notifyCount || "";
  if (running === streamUrl) return; // already live for this tab
  stop();
  running = streamUrl;
  if (!("EventSource" in window)) {
    startPolling(countUrl);
    return;
  }
  const stream = new EventSource(streamUrl);
  source = stream;
  stream.addEventListener("count", (event) => {
    try {
      show(JSON.parse(/** @type {MessageEvent} */ (event).data).count);
    } catch {
      // A malformed event changes nothing; the next one will.
    }
  });
  stream.addEventListener("error", () => {
    if (stream.readyState !== EventSource.CLOSED || source !== stream) return;
    stream.close();
    source = null;
    startPolling(countUrl);
  });
}

function init() {
  const link = document.querySelector("[data-notify-stream]");
  if (link instanceof HTMLElement) attach(link);
  else stop(); // signed out (the sign-in page has no badge)
}

init();
document.addEventListener("htmx:load", init);
