// The agent's vault: one random AES-256-GCM data key encrypts everything the agent keeps on
// the phone. It is stored only wrapped, twice (DESIGN.md §6):
//   pin     by a key derived from the PIN: PBKDF2-SHA256, salt 16 bytes, iterations calibrated
//           on this phone to about one second and never under 310,000, stored with the salt;
//   device  by a non-extractable AES-GCM key generated here and kept in IndexedDB, so the data
//           key can be recovered on this phone only, once the township has re-enrolled it
//           (the PIN copy is gone by then, see below and `recoverAfterEnrolment`).
// Unlocked, the data key lives in this page's memory alone and is dropped on lock, after
// IDLE_MS without a touch or a key, and when another user signs in. Each wrong PIN is counted
// before the attempt (closing the tab does not undo it) and makes the next wait 1, 2, 4, 8 s;
// the fifth seals the vault: the PIN copy is deleted, the drafts stay encrypted. A fresh
// enrolment with a clerk's one-time code (device.js) reopens it under a new PIN.
import { randomBytes, utf8 } from "./bytes.js";
import * as idb from "./idb.js";
import { calibrate, pinKey, pinProblem } from "./pin.js";

const subtle = crypto.subtle;
export const MAX_FAILURES = 5;
export const IDLE_MS = 5 * 60 * 1000;
const GCM = "AES-GCM";

let current = null; // { userId, key }
let lastTouch = 0;
let idleTimer = 0;
const lockListeners = new Set();

const backoffMs = (failures) => 1000 * 2 ** (failures - 1);
const aad = (label, userId) => utf8.encode(`yc-vault:${label}:${userId}`);

async function wrap(key, raw, label, userId) {
  const iv = randomBytes(12);
  const ct = await subtle.encrypt({ name: GCM, iv, additionalData: aad(label, userId) }, key, raw);
  return { iv, ct: new Uint8Array(ct) };
}

async function unwrap(key, wrapped, label, userId) {
  const params = { name: GCM, iv: wrapped.iv, additionalData: aad(label, userId) };
  const raw = new Uint8Array(await subtle.decrypt(params, key, wrapped.ct));
  const dataKey = await subtle.importKey("raw", raw, GCM, false, ["encrypt", "decrypt"]);
  raw.fill(0);
  return dataKey;
}

/** "none" (no PIN yet), "locked", "unlocked" or "sealed", and how long to wait before a try. */
export async function status(userId) {
  const rec = await idb.get(idb.userDb(userId), idb.VAULT, "keys");
  if (!rec) return { state: "none", waitMs: 0 };
  if (rec.sealed) return { state: "sealed", waitMs: 0 };
  const state = current && current.userId === userId ? "unlocked" : "locked";
  return { state, waitMs: Math.max(0, rec.waitUntil - Date.now()), left: MAX_FAILURES - rec.failures };
}

function opened(userId, key) {
  current = { userId, key };
  touch();
  clearInterval(idleTimer);
  idleTimer = setInterval(() => Date.now() - lastTouch > IDLE_MS && lock(), 15000);
}

/** Make the vault of a user who has none: a new data key, wrapped by the PIN and the device. */
export async function setup(userId, pin) {
  const problem = pinProblem(pin);
  if (problem) throw new Error(problem);
  const name = idb.userDb(userId);
  if (await idb.get(name, idb.VAULT, "keys")) throw new Error("本机已为该用户设置过 PIN 码");
  const [salt, iterations, raw] = [randomBytes(16), await calibrate(), randomBytes(32)];
  const device = await subtle.generateKey({ name: GCM, length: 256 }, false, ["encrypt", "decrypt"]);
  const rec = {
    v: 1, salt, iterations, failures: 0, waitUntil: 0, sealed: false, deviceKey: device,
    pin: await wrap(await pinKey(pin, salt, iterations), raw, "pin", userId),
    device: await wrap(device, raw, "device", userId),
  };
  const dataKey = await subtle.importKey("raw", raw, GCM, false, ["encrypt", "decrypt"]);
  raw.fill(0);
  await idb.put(name, idb.VAULT, rec, "keys");
  opened(userId, dataKey);
}

/** Try a PIN: {ok: true} or {ok: false, reason: "wrong" | "wait" | "sealed" | "none", …}. */
export async function unlock(userId, pin) {
  const name = idb.userDb(userId);
  const rec = await idb.get(name, idb.VAULT, "keys");
  if (!rec) return { ok: false, reason: "none" };
  if (rec.sealed) return { ok: false, reason: "sealed" };
  if (rec.waitUntil > Date.now()) return { ok: false, reason: "wait", waitMs: rec.waitUntil - Date.now() };
  const failures = rec.failures + 1; // counted first: a closed tab does not undo a try
  await idb.put(name, idb.VAULT, { ...rec, failures, waitUntil: Date.now() + backoffMs(failures) }, "keys");
  try {
    const key = await unwrap(await pinKey(pin, rec.salt, rec.iterations), rec.pin, "pin", userId);
    await idb.put(name, idb.VAULT, { ...rec, failures: 0, waitUntil: 0 }, "keys");
    opened(userId, key);
    return { ok: true };
  } catch (error) {
    if (failures < MAX_FAILURES) {
      const waitMs = backoffMs(failures); // counted from now, after the slow derivation
      await idb.put(name, idb.VAULT, { ...rec, failures, waitUntil: Date.now() + waitMs }, "keys");
      return { ok: false, reason: "wrong", left: MAX_FAILURES - failures, waitMs };
    }
    await idb.put(name, idb.VAULT, { ...rec, failures, pin: null, sealed: true, waitUntil: 0 }, "keys");
    return { ok: false, reason: "sealed" };
  }
}

// Reopening a sealed vault. The threat: someone holding the phone (found, taken, or the agent
// who forgot the PIN) guesses PINs. After five the PIN copy is gone and only the device copy
// is left; it may be used again only after the township has re-enrolled this phone, which
// takes the agent's password (a signed-in session, POST /api/agent/devices with its CSRF
// token) AND a clerk's one-time code for this agent (issued at the township, one hour, once,
// recorded there). So the unwrap is gated on the genuine answer to that POST in this page:
// `recoverAfterEnrolment` takes the fetch Response itself (a same-origin network answer, 200,
// from /api/agent/devices; `new Response()` or a GET elsewhere is refused), spends it once
// and, only if the vault is sealed, hands back a one-shot function that sets the new PIN.
// Only the enrol form (device.js) calls it, for the user whose session made the request, and
// keeps that function in its own closure. What this cannot stop, and does not pretend to:
// code already running in this origin can take `deviceKey` from IndexedDB and decrypt with it
// directly (the key is non-extractable, not unusable); against that stand the CSP
// (script-src 'self', no inline script) and the phone's screen lock, and against reading the
// browser profile's files off a rooted phone only the phone's own file encryption
// (docs/architecture.md, the vault).
const spentAnswers = new WeakSet();

function enrolmentAnswer(response) {
  if (!(response instanceof Response) || spentAnswers.has(response)) return false;
  if (!response.ok || response.status !== 200 || response.type !== "basic" || !response.url) return false;
  const url = new URL(response.url);
  return url.origin === location.origin && url.pathname === "/api/agent/devices";
}

/** After a successful enrolment (`response` as fetch gave it): null unless `userId`'s vault
 * is sealed, else `async (pin) => {}`, which unwraps the SAME data key with the device key,
 * wraps it under `pin` (fresh salt, PBKDF2 calibrated as in `setup`), clears the failures and
 * the seal, and opens the vault. Usable once; throws a Chinese message on a bad PIN. */
export async function recoverAfterEnrolment(userId, response) {
  if (!enrolmentAnswer(response)) return null;
  spentAnswers.add(response);
  const name = idb.userDb(userId);
  const sealed = await idb.get(name, idb.VAULT, "keys");
  if (!sealed || !sealed.sealed || !sealed.deviceKey) return null;
  let spent = false;
  return async (pin) => {
    const problem = pinProblem(pin);
    if (problem) throw new Error(problem);
    if (spent) throw new Error("本次登记已经设过新的 PIN 码");
    spent = true;
    try {
      const rec = await idb.get(name, idb.VAULT, "keys");
      if (!rec || !rec.sealed) throw new Error("本机的办件没有封存，请用 PIN 码解锁");
      const params = { name: GCM, iv: rec.device.iv, additionalData: aad("device", userId) };
      const raw = new Uint8Array(await subtle.decrypt(params, rec.deviceKey, rec.device.ct));
      const [salt, iterations] = [randomBytes(16), await calibrate()];
      const wrapped = await wrap(await pinKey(pin, salt, iterations), raw, "pin", userId);
      const dataKey = await subtle.importKey("raw", raw, GCM, false, ["encrypt", "decrypt"]);
      raw.fill(0);
      const open = { ...rec, salt, iterations, pin: wrapped, failures: 0, waitUntil: 0, sealed: false };
      await idb.put(name, idb.VAULT, open, "keys");
      opened(userId, dataKey);
    } catch (error) {
      spent = false; // nothing was written: the same enrolment may try again
      throw error.name === "OperationError" ? new Error("本机的设备密钥打不开封存的办件，请联系乡镇") : error;
    }
  };
}

/** Forget the data key (and the idle timer); listeners hide what was shown. */
export function lock() {
  const was = current;
  current = null;
  clearInterval(idleTimer);
  if (was) lockListeners.forEach((listener) => listener(was.userId));
}

export function onLock(listener) {
  lockListeners.add(listener);
}

export function unlockedFor(userId) {
  return Boolean(current && current.userId === userId);
}

export function touch() {
  lastTouch = Date.now();
}

/** Encrypt a JSON value under the data key, bound to `label` (e.g. the record's id). */
export async function encrypt(value, label) {
  if (!current) throw new Error("vault locked");
  const iv = randomBytes(12);
  const params = { name: GCM, iv, additionalData: utf8.encode(label) };
  const ct = await subtle.encrypt(params, current.key, utf8.encode(JSON.stringify(value)));
  return { iv, ct: new Uint8Array(ct) };
}

export async function decrypt(sealed, label) {
  if (!current) throw new Error("vault locked");
  const params = { name: GCM, iv: sealed.iv, additionalData: utf8.encode(label) };
  return JSON.parse(new TextDecoder().decode(await subtle.decrypt(params, current.key, sealed.ct)));
}

/** Encrypt bytes (a photo) under the data key, bound to `label`; `{ iv, ct }`. */
export async function encryptBytes(bytes, label) {
  if (!current) throw new Error("vault locked");
  const iv = randomBytes(12);
  const params = { name: GCM, iv, additionalData: utf8.encode(label) };
  return { iv, ct: new Uint8Array(await subtle.encrypt(params, current.key, bytes)) };
}

export async function decryptBytes(sealed, label) {
  if (!current) throw new Error("vault locked");
  const params = { name: GCM, iv: sealed.iv, additionalData: utf8.encode(label) };
  return new Uint8Array(await subtle.decrypt(params, current.key, sealed.ct));
}
