// Cases kept on the phone (drafts, and finished ones waiting to be sent), each encrypted whole
// under the vault's data key: the stored record is { id, iv, ct } and the id is random, so
// nothing about the applicant, the item or the dates can be read without the PIN.
import { toHex, randomBytes } from "./bytes.js";
import * as idb from "./idb.js";
import * as vault from "./vault.js";

export const STATES = { draft: "草稿", ready: "待发送" }; // after that: caselist.js STAGES

const label = (id) => `yc-draft:${id}`; // binds each ciphertext to its record

/** Save a case; returns its id (new cases get one). `updated` is set here. */
export async function saveDraft(userId, draft) {
  const id = draft.id || toHex(randomBytes(16));
  const value = { ...draft, id, updated: Date.now(), created: draft.created || Date.now() };
  const sealed = await vault.encrypt(value, label(id));
  await idb.put(idb.userDb(userId), idb.DRAFTS, { id, ...sealed });
  return id;
}

export async function loadDraft(userId, id) {
  const rec = await idb.get(idb.userDb(userId), idb.DRAFTS, id);
  return rec ? vault.decrypt(rec, label(rec.id)) : null;
}

/** Every case on the phone, newest first. */
export async function listDrafts(userId) {
  const records = await idb.getAll(idb.userDb(userId), idb.DRAFTS);
  const drafts = await Promise.all(records.map((rec) => vault.decrypt(rec, label(rec.id))));
  return drafts.sort((a, b) => b.updated - a.updated);
}

export async function countDrafts(userId) {
  return (await idb.getAll(idb.userDb(userId), idb.DRAFTS)).length;
}
