// The only module that touches IndexedDB (STYLE.md §4). Two kinds of database:
//   yc-device         one per phone: who used the app last (user id and name, nothing else)
//   yc-user-<id>      one per agent: the vault's wrapped keys, the encrypted drafts and photos,
//                     the phone's device keys, the sealed outbox and the cases' states
// Another agent's database is never opened while someone else is signed in.
// Upgrades are numbered steps: step i takes a database from version i to i + 1.

export const DEVICE_DB = "yc-device";
export const STATE = "state"; // key "user": { id, name } of the last agent seen online
export const VAULT = "vault"; // key "keys": salt, iterations, the two wrapped data keys, counters
export const DRAFTS = "drafts"; // { id, iv, ct }: a case on the phone, encrypted as a whole
export const PHOTOS = "photos"; // { id, draft, meta: {iv, ct}, image: {iv, ct} } (photos.js)
export const DEVICE = "device"; // key "keys": this phone's key pairs (non-extractable) and the
//                                  township's public keys; key "sync": last pull, changes seen
export const OUTBOX = "outbox"; // { id: draft id, caseId, envelope, posted, answer }: sealed
export const CASES = "cases"; // { id: draft id, caseId, stage, state, serial, message, … }

const UPGRADES = {
  device: [(db) => db.createObjectStore(STATE)],
  user: [
    (db) => {
      db.createObjectStore(VAULT);
      db.createObjectStore(DRAFTS, { keyPath: "id" });
    },
    (db) => db.createObjectStore(PHOTOS, { keyPath: "id" }).createIndex("draft", "draft"),
    (db) => {
      db.createObjectStore(DEVICE);
      db.createObjectStore(OUTBOX, { keyPath: "id" });
      db.createObjectStore(CASES, { keyPath: "id" });
    },
  ],
};

const open = new Map(); // name → Promise<IDBDatabase>

export function userDb(userId) {
  return `yc-user-${Number(userId)}`;
}

function steps(name) {
  return name === DEVICE_DB ? UPGRADES.device : UPGRADES.user;
}

function connect(name) {
  if (!open.has(name)) {
    const upgrades = steps(name);
    const opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(name, upgrades.length);
      request.onupgradeneeded = (event) => {
        for (let v = event.oldVersion; v < upgrades.length; v++) upgrades[v](request.result);
      };
      request.onsuccess = () => {
        request.result.onversionchange = () => close(name);
        resolve(request.result);
      };
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error(`IndexedDB ${name} is blocked`));
    });
    open.set(name, opening);
    opening.catch(() => open.delete(name));
  }
  return open.get(name);
}

// A write completes only once it is on disk ("strict"): a draft saved must survive a dead
// battery, and Chromium's default lets it report done before flushing. (Chromium before 83
// ignores the option; its writes were strict anyway.)
const DURABLE = { durability: "strict" };

async function run(name, store, mode, work) {
  const db = await connect(name);
  return new Promise((resolve, reject) => {
    const tx = mode === "readwrite" ? db.transaction(store, mode, DURABLE) : db.transaction(store, mode);
    const request = work(tx.objectStore(store));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

export function get(name, store, key) {
  return run(name, store, "readonly", (s) => s.get(key));
}

export function getAll(name, store) {
  return run(name, store, "readonly", (s) => s.getAll());
}

/** Every record of `store` whose `index` has the value `key`. */
export function getAllBy(name, store, index, key) {
  return run(name, store, "readonly", (s) => s.index(index).getAll(key));
}

/** Put `value` (under `key` when the store has no key path); resolves when durable. */
export function put(name, store, value, key) {
  return run(name, store, "readwrite", (s) => (key === undefined ? s.put(value) : s.put(value, key)));
}

export function remove(name, store, key) {
  return run(name, store, "readwrite", (s) => s.delete(key));
}

/** Close a database (another user signed in, or the vault locked). */
export async function close(name) {
  const opening = open.get(name);
  open.delete(name);
  if (opening) (await opening.catch(() => null))?.close();
}

export async function closeAll() {
  await Promise.all([...open.keys()].map(close));
}
