// The outbox, replayed by the worker (Background Sync's `sync` event, tag "yc-outbox"): each
// agent's sealed envelopes (pwa/js/outbox.js put them in yc-user-<id>/outbox) are posted as they
// are, with no PIN and no session: an envelope is encrypted to the township and signed by the
// phone. The township's answer, sealed to the phone, is kept on the record for the page to open
// (the worker holds no code to open it). A record already answered is not posted again; one the
// page finds unanswered it posts itself. The township opens a case once, so a repeat is harmless.
const OUTBOX_STORE = "outbox";

function idbRequest(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** An agent's database as the page made it; never created or upgraded here. */
function openExisting(name) {
  return new Promise((resolve) => {
    const request = indexedDB.open(name);
    request.onupgradeneeded = () => request.transaction.abort(); // not made by the page: leave it
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => resolve(null);
  });
}

async function agentDatabases() {
  if (indexedDB.databases) {
    return (await indexedDB.databases()).map((db) => db.name).filter((name) => /^yc-user-\d+$/.test(name));
  }
  const device = await openExisting("yc-device");
  if (!device) return [];
  const last = await idbRequest(device.transaction("state").objectStore("state").get("user")).catch(() => null);
  device.close();
  return last ? [`yc-user-${Number(last.id)}`] : [];
}

async function flushOutbox() {
  let failed = false;
  for (const name of await agentDatabases()) {
    const db = await openExisting(name);
    if (!db) continue;
    if (!db.objectStoreNames.contains(OUTBOX_STORE)) {
      db.close();
      continue;
    }
    const records = await idbRequest(db.transaction(OUTBOX_STORE).objectStore(OUTBOX_STORE).getAll());
    for (const record of records) {
      if (record.answer) continue;
      let response;
      try {
        response = await fetch("/api/agent/sync", { method: "POST", body: record.envelope,
          headers: { "Content-Type": "application/octet-stream" } });
      } catch (error) {
        failed = true; // no link: the browser fires `sync` again later
        break;
      }
      if (!response.ok) continue; // refused: the page shows why when it flushes
      const answer = new Uint8Array(await response.arrayBuffer());
      const store = db.transaction(OUTBOX_STORE, "readwrite").objectStore(OUTBOX_STORE);
      await idbRequest(store.put({ ...record, posted: true, answer }));
    }
    db.close();
  }
  if (failed) throw new Error("offline");
}
