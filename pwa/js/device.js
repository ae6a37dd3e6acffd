// This phone's enrolment (/agent/enrol): make the P-256 signing and receiving key pairs in
// WebCrypto (private halves non-extractable, kept in the agent's own IndexedDB database),
// register the public halves with the clerk's one-time code (POST /api/agent/devices, as the
// signed-in agent with the page's CSRF token) and keep the township's public keys it answers.
// `loadDevice()` is what the outbox seals with; nothing here needs the PIN.
// If this agent's vault was sealed by wrong PINs, the enrol form then asks for a new PIN and
// the vault reopens with the same data key (vault.js `recoverAfterEnrolment`, which explains
// why only this flow may do it): drafts and photos open again, finished cases are sent.
import * as idb from "./idb.js";
import { generateKeys, publicFromJson, publicJson } from "./keys.js";
import { pinProblem } from "./pin.js";
import * as vault from "./vault.js";

/** {keyId, signing, receiving, signingPoint, receivingPoint, name, township} or null. */
export function loadDevice(userId) {
  return idb.get(idb.userDb(userId), idb.DEVICE, "keys").then((rec) => rec || null);
}

/** Mark the device refused by the township (revoked or unknown): enrol again. */
export async function markRefused(userId, detail) {
  const rec = await loadDevice(userId);
  if (rec) await idb.put(idb.userDb(userId), idb.DEVICE, { ...rec, refused: detail }, "keys");
}

function csrfToken() {
  const holder = document.querySelector("[hx-headers]");
  try {
    return JSON.parse(holder.getAttribute("hx-headers"))["X-CSRF-Token"] || "";
  } catch (error) {
    return "";
  }
}

/** Enrol this phone for `userId` with `code`; resolves to the stored record. */
export async function enrol(userId, code, name) {
  return (await register(userId, code, name)).rec;
}

/** The enrolment itself: `{ rec, response }`, the server's answer kept for the vault. */
async function register(userId, code, name) {
  const keys = await generateKeys();
  let response;
  try {
    response = await fetch("/api/agent/devices", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ code, name, keys: publicJson(keys) }),
    });
  } catch (error) {
    throw new Error("没有网络：登记本机需要联网，请连上乡镇的网络后再试");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `登记失败（${response.status}）`);
  const township = await publicFromJson(body.keys);
  const rec = {
    ...keys, name: body.name, enrolledAt: Date.now(), refused: "",
    township: { ...township, regionCode: body.region_code, name: body.township },
  };
  const db = idb.userDb(userId);
  await idb.put(db, idb.DEVICE, rec, "keys");
  // Envelopes sealed with the keys this phone had before cannot be answered to it any more:
  // they go, and outbox.js seals their cases again (same case ids) when the vault opens.
  for (const old of await idb.getAll(db, idb.OUTBOX)) await idb.remove(db, idb.OUTBOX, old.id);
  return { rec, response };
}

/** The vault was sealed: a new PIN (rules of pin.js) reopens it through `reopen`. */
function askForPin(root, reopen) {
  const form = root.querySelector("[data-vault-reopen]");
  const message = root.querySelector("[data-reopen-message]");
  const busy = root.querySelector("[data-reopen-busy]");
  form.hidden = false;
  form.pin.focus();
  form.onsubmit = async (event) => {
    event.preventDefault();
    const pin = form.pin.value;
    const problem = pin !== form.again.value ? "两次输入的 PIN 码不一样" : pinProblem(pin);
    message.textContent = problem || "";
    if (problem) return;
    busy.hidden = false;
    form.querySelector("button").disabled = true;
    try {
      await reopen(pin);
      form.reset();
      form.hidden = true;
      root.querySelector("[data-vault-reopened]").hidden = false;
      // Finished cases are sealed for the new keys and sent (syncbar.js listens; importing it
      // here would close an import cycle through outbox.js).
      document.dispatchEvent(new CustomEvent("yc:case-ready"));
    } catch (error) {
      message.textContent = error.message;
    } finally {
      busy.hidden = true;
      form.querySelector("button").disabled = false;
    }
  };
}

export function shortId(keyId) {
  return Array.from(keyId.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** /agent/enrol: the code comes from the QR link's fragment (#code=…) or is typed. */
export async function before(root, session) {
  const form = root.querySelector("[data-device-enrol]");
  const status = root.querySelector("[data-device-status]");
  const error = root.querySelector("[data-device-error]");
  const busy = root.querySelector("[data-device-busy]");
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("code")) form.code.value = fragment.get("code");
  if (!session.user) {
    status.hidden = false;
    status.textContent = "请先用村代办员的账号登录，再登记本机。";
    return;
  }
  const known = await loadDevice(session.user.id);
  if (known && !known.refused) {
    status.hidden = false;
    status.textContent = `本机已登记为“${known.name}”（设备编号 ${shortId(known.keyId)}），乡镇：${known.township.name}。重新登记会换一组新密钥。`;
  }
  const sealedNote = root.querySelector("[data-vault-sealed-note]");
  sealedNote.hidden = (await vault.status(session.user.id)).state !== "sealed";
  form.hidden = false; // shown once this script handles it: never posted as a plain form
  form.onsubmit = async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (!form.code.value.trim() || !form.name.value.trim()) {
      error.hidden = false;
      error.textContent = !form.code.value.trim() ? "请填写登记码" : "请填写手机名称";
      return;
    }
    busy.hidden = false;
    form.querySelector("button").disabled = true;
    try {
      const { rec, response } = await register(session.user.id, form.code.value.trim(), form.name.value.trim());
      status.hidden = false;
      status.textContent = `登记成功：本机“${rec.name}”（设备编号 ${shortId(rec.keyId)}）。办好的办件将加密发送到${rec.township.name}。`;
      form.hidden = true;
      history.replaceState(history.state, "", location.pathname); // the code leaves the address bar
      const reopen = await vault.recoverAfterEnrolment(session.user.id, response);
      if (reopen) askForPin(root, reopen);
      sealedNote.hidden = true;
    } catch (problem) {
      error.hidden = false;
      error.textContent = problem.message;
    } finally {
      busy.hidden = true;
      form.querySelector("button").disabled = false;
    }
  };
}
