// Who is using the app: the server's answer when it can be reached (GET /api/me, never
// cached), else the last agent seen online on this phone. An agent must have signed in once
// online; offline, the PIN guards their data. Only village agents use the offline app.
import * as idb from "./idb.js";

/**
 * @returns {Promise<{user: {id: number, name: string} | null, online: boolean, signedIn: boolean}>}
 */
export async function currentUser() {
  let response;
  try {
    response = await fetch("/api/me", { credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    const last = await idb.get(idb.DEVICE_DB, idb.STATE, "user");
    return { user: last || null, online: false, signedIn: false };
  }
  if (!response.ok) {
    // Signed out or the session ended: the last agent may still work offline with the PIN.
    const last = await idb.get(idb.DEVICE_DB, idb.STATE, "user");
    return { user: last || null, online: true, signedIn: false };
  }
  const me = await response.json();
  if (me.role !== "village_agent") return { user: null, online: true, signedIn: true };
  const user = { id: me.id, name: me.display_name };
  await idb.put(idb.DEVICE_DB, idb.STATE, user, "user");
  return { user, online: true, signedIn: true };
}
