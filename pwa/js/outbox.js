// The outbox: a finished case ("待发送") is sealed on the phone into an envelope for the
// township (envelope.js, signed by this device's key) and kept in IndexedDB until the township
// acknowledges it. The envelope is encrypted to the township, so it sits in the outbox readable
// by nobody on the phone, and the service worker can send it without the PIN (pwa/sw/outbox.js
// stores the township's sealed answer on the record; the page opens it here).
// A flush: each record's photos first (upload.js, when the photo module is present), then the
// envelope, then one pull of the state of every case the agent sent. The township opens a case
// id once, so sending again is harmless; a record leaves the outbox when its case is
// acknowledged (stored, repeated or refused; not "pending", which a concurrent request is
// opening) and none of its photos is still on the phone.
import { randomBytes, toHex, utf8 } from "./bytes.js";
import { listDrafts } from "./drafts.js";
import { apply } from "./casestate.js";
import { loadDevice, markRefused } from "./device.js";
import { openEnvelope, seal } from "./envelope.js";
import * as idb from "./idb.js";
import * as vault from "./vault.js";

const URL = "/api/agent/sync";
let running = null; // one flush at a time
let photoProblem = ""; // why the township refused a photo in this flush, for the sync bar

/** The case id a draft is sent under: a UUID (v4 layout) made from the draft's own random id,
 * so that two flushes sealing the same draft at once (the page's and a restarted worker's, or
 * `yc:case-ready` racing a start-up flush) name the same case and the township opens it once.
 * A draft without a 128-bit hex id (none is made so now) gets a random one. */
function caseIdOf(draftId) {
  const h = /^[0-9a-f]{32}$/.test(draftId) ? draftId : toHex(randomBytes(16));
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

async function sealFor(device, cases) {
  const payload = { type: "agent_sync", cases, sent_at: new Date().toISOString() };
  return seal(utf8.encode(JSON.stringify(payload)), {
    sender: { keyId: device.keyId, signing: device.signing },
    recipients: [{ keyId: device.township.keyId, receiving: device.township.receiving }],
  });
}

function casePayload(draft, caseId) {
  return {
    id: caseId, draft: draft.id, item_id: draft.item ? draft.item.id : null,
    applicant: draft.applicant, materials: draft.materials || [],
  };
}

/** Seal every finished case that is not in the outbox yet (needs the vault open). */
export async function queueReady(userId) {
  const device = await loadDevice(userId);
  if (!device || device.refused || !vault.unlockedFor(userId)) return 0;
  const db = idb.userDb(userId);
  const waiting = new Set((await idb.getAll(db, idb.OUTBOX)).map((rec) => rec.id));
  const states = new Map((await idb.getAll(db, idb.CASES)).map((rec) => [rec.id, rec]));
  let queued = 0;
  for (const draft of await listDrafts(userId)) {
    const known = states.get(draft.id);
    const again = known && known.stage === "refused" && draft.updated > known.updated;
    const unsent = known && (known.stage === "phone" || known.stage === "sent"); // re-enrolled
    if (draft.state !== "ready" || waiting.has(draft.id) || (known && !again && !unsent)) continue;
    const caseId = (known && known.caseId) || caseIdOf(draft.id);
    const envelope = await sealFor(device, [casePayload(draft, caseId)]);
    await idb.put(db, idb.OUTBOX, { id: draft.id, caseId, envelope, posted: false, answer: null, created: Date.now() });
    await idb.put(db, idb.CASES, { id: draft.id, caseId, stage: "phone", updated: Date.now() });
    queued += 1;
  }
  return queued;
}

async function post(envelope) {
  let response;
  try {
    response = await fetch(URL, { method: "POST", body: envelope, cache: "no-store",
      headers: { "Content-Type": "application/octet-stream" } });
  } catch (error) {
    return { offline: true };
  }
  if (response.ok) return { answer: new Uint8Array(await response.arrayBuffer()) };
  const body = await response.json().catch(() => ({}));
  return { refused: body.detail || `乡镇拒收（${response.status}）`, reason: body.reason, status: response.status };
}

async function open(device, data) {
  const township = device.township;
  const me = [{ keyId: device.keyId, receiving: device.receiving, receivingPoint: device.receivingPoint }];
  const senderLookup = async (keyId) => (keyId.every((b, i) => b === township.keyId[i]) ? township : null);
  const opened = await openEnvelope(data, { me, senderLookup });
  return JSON.parse(new TextDecoder().decode(opened.payload));
}

/** Send the draft's photos; how many are not yet with its case at the township: those still
 * on the phone, and with `recheck` (photos marked sent declared again) those the township
 * holds but no case has taken, after the case was sent (the worker sent it without photos,
 * or the township removed a photo sent a month before and has it again now). */
async function photosPending(draftId, userId, onProgress, recheck = false) {
  let upload;
  try {
    upload = await import("./upload.js"); // the photo module; absent, cases go without photos
  } catch (error) {
    return 0;
  }
  let unlinked = 0;
  try {
    unlinked = (await upload.uploadPhotos(draftId, onProgress, userId, { recheck })).unlinked;
  } catch (error) {
    // Not sent this time (no link, no session, or refused): the case still goes; its photos
    // follow later. A refusal is told to the agent (a cut link is not news).
    if (error.status) photoProblem = error.message;
  }
  return (await upload.pendingUploads(draftId, userId)).length + (recheck ? unlinked : 0);
}

/** Open the township's answer for a record; true when the case must be sent again (pending
 * at the township, or photos not with it yet: sending it again links them). */
async function settle(userId, device, rec, data, changes, recheck = false) {
  const db = idb.userDb(userId);
  const answer = await open(device, data);
  await apply(userId, answer, changes);
  const result = (answer.results || []).find((r) => r.id === rec.caseId);
  if (!result) return false;
  if (result.status === "pending" || (result.status !== "refused" && (await photosPending(rec.id, userId, () => {}, recheck)))) {
    await idb.put(db, idb.OUTBOX, { ...rec, posted: true, answer: null }); // to be sent again
    return true;
  }
  await idb.remove(db, idb.OUTBOX, rec.id);
  return false;
}

/**
 * Send the outbox and pull the states. `onProgress({done, total})` after each step.
 * Resolves to {state: "done" | "offline" | "no-device" | "refused", sent, changes, detail,
 * photoProblem} (photoProblem: why the township refused a photo this time, or "").
 */
export function flush(userId, onProgress = () => {}) {
  if (!running) running = run(userId, onProgress).finally(() => (running = null));
  return running;
}

async function run(userId, onProgress) {
  photoProblem = "";
  await queueReady(userId).catch(() => 0);
  const device = await loadDevice(userId);
  if (!device) return { state: "no-device", sent: 0, changes: [] };
  if (device.refused) return { state: "refused", sent: 0, changes: [], detail: device.refused };
  const db = idb.userDb(userId);
  const records = await idb.getAll(db, idb.OUTBOX);
  const total = records.length + 1;
  const changes = [];
  let sent = 0;
  onProgress({ done: 0, total });
  for (const [n, rec] of records.entries()) {
    // The service worker sent it (no photos: those need the page); then again, if need be.
    // Its settle has just declared every photo again; otherwise that happens here.
    if (rec.answer && !(await settle(userId, device, rec, rec.answer, changes, true))) continue;
    if (!rec.answer) await photosPending(rec.id, userId, () => {}, true); // marked sent too
    await idb.put(db, idb.OUTBOX, { ...rec, posted: true, answer: null });
    const state = await idb.get(db, idb.CASES, rec.id);
    if (state && state.stage === "phone") await idb.put(db, idb.CASES, { ...state, stage: "sent" });
    const reply = await post(rec.envelope);
    if (reply.offline) return { state: "offline", sent, changes };
    if (reply.refused) return refusedBy(userId, reply, sent, changes);
    await settle(userId, device, rec, reply.answer, changes);
    sent += 1;
    onProgress({ done: n + 1, total });
  }
  const reply = await post(await sealFor(device, []));
  if (reply.offline) return { state: "offline", sent, changes };
  if (reply.refused) return refusedBy(userId, reply, sent, changes);
  const catalogueChanged = await apply(userId, await open(device, reply.answer), changes);
  if (catalogueChanged) await fetch("/api/catalog", { cache: "no-cache" }).catch(() => null);
  onProgress({ done: total, total });
  return { state: "done", sent, changes, catalogueChanged, photoProblem };
}

async function refusedBy(userId, reply, sent, changes) {
  if (reply.status === 403) await markRefused(userId, reply.refused);
  return { state: "refused", sent, changes, detail: reply.refused };
}

/** How many cases wait in the outbox. */
export async function waiting(userId) {
  return (await idb.getAll(idb.userDb(userId), idb.OUTBOX)).length;
}
