// Every page's script: registers the service worker and starts the agent's offline pages.
// Modules attach to data-* attributes and run again after each htmx swap (htmx:load).

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((error) => {
    console.warn("service worker not registered:", error);
  });
}

const started = new WeakSet();
let agentLoaded = false;

async function init(root) {
  for (const el of root.querySelectorAll("[data-agent-page]")) {
    if (started.has(el)) continue;
    started.add(el);
    agentLoaded = true;
    const agent = await import("./agent.js");
    await agent.start(el);
  }
}

document.addEventListener("submit", async (event) => {
  // Signing out locks the vault at once, whoever signs in next.
  if (agentLoaded && event.target.matches('form[action="/signout"]')) {
    (await import("./agent.js")).lockForSignOut();
  }
}, true);

// The worker answers /agent/new?draft=… with the shell cached under /agent/new, and htmx
// would put the answer's address in the history, without the query the page needs.
document.addEventListener("htmx:beforeHistoryUpdate", (event) => {
  const asked = event.detail.pathInfo && event.detail.pathInfo.finalRequestPath;
  const history = event.detail.history;
  if (asked && asked.split("?")[0] === history.path.split("?")[0]) history.path = asked;
});

document.addEventListener("htmx:load", (event) => init(event.target));
init(document);
