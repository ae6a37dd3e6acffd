// The /agent pages: find who is using the app, guard the vault, hand over to the page's
// own module. Loaded by app.js only on pages with [data-agent-page].
import { gate } from "./gate.js";
import * as idb from "./idb.js";
import { currentUser } from "./session.js";
import * as vault from "./vault.js";

const PAGES = {
  home: () => import("./home.js"),
  new: () => import("./intake.js"),
  outbox: () => import("./caselist.js"),
  unlock: () => import("./home.js"),
  enrol: () => import("./device.js"),
};
let activeUser = null; // whose vault this page may open
let leaving = false; // signing out: the page is going away anyway

vault.onLock(async () => {
  await idb.closeAll();
  // A fresh copy of the page (from the service worker's cache) drops whatever was shown.
  if (!leaving && document.querySelector("[data-agent-page]")) location.reload();
});

for (const event of ["pointerdown", "keydown"]) {
  document.addEventListener(event, () => vault.touch(), { passive: true });
}

/** Start the page in `root` ([data-agent-page]). */
export async function start(root) {
  const session = await currentUser();
  const userId = session.user ? session.user.id : null;
  if (activeUser !== null && activeUser !== userId) {
    // Someone else signed in on this phone: the previous agent's key leaves memory now.
    vault.lock();
    await idb.closeAll();
  }
  activeUser = userId;
  const page = root.dataset.agentPage;
  const module = await PAGES[page]();
  const sync = await import("./syncbar.js");
  await sync.mount(session.user); // the outbox needs no PIN: sealed envelopes go out as they are
  if (module.before) await module.before(root, session);
  if (!root.querySelector("[data-vault-gate]")) return;
  await gate(root, session, async () => {
    await module.opened(root, session.user);
    sync.caseReady(); // the vault is open: seal what was finished while it was locked
  });
  const lockNow = root.querySelector("[data-lock-now]");
  if (lockNow) lockNow.onclick = () => vault.lock();
}

export function lockForSignOut() {
  leaving = true;
  vault.lock();
  leaving = false;
}
