// Sending a case's photos to the township (server/agent/uploads.py), chunk by chunk. For each
// photo not sent yet the phone declares it (draft, material, SHA-256, size) and the server
// answers with the chunks it still lacks, so after a cut (the link drops, the phone sleeps,
// the page closes) the next try sends only those: the chunks already there are never sent
// again. The server checks the whole SHA-256 when the last chunk arrives; only then is the
// photo marked sent on the phone. The outbox flush calls `uploadPhotos(caseId)` before it
// sends the case; the intake form's "上传照片" button calls it too. An enrolled phone signs
// each request with its device key (device.js), so photos go up after the session ended; a
// phone without one, or one the township refuses, uses the session and its CSRF token.
import { toB64url, toHex, utf8 } from "./bytes.js";
import { loadDevice } from "./device.js";
import { sign } from "./keys.js";
import * as photos from "./photos.js";
import { currentUser } from "./session.js";

const BASE = "/api/agent/uploads";
const LABEL = "yc-upload-v1"; // server/agent/uploads.py signed_message

export class UploadError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status; // 0: no network
  }
}

/** The enrolled phone signs each request (no session needed); without one, the session. */
async function credentials(userId) {
  const device = await loadDevice(userId).catch(() => null);
  return { device: device && !device.refused ? device : null, csrf: null };
}

async function deviceHeader(device, method, url, body) {
  const [path, query = ""] = url.split("?");
  const digest = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", body)));
  const message = utf8.encode([LABEL, method, path, query, digest].join("\n"));
  return `YC-Device ${toHex(device.keyId)}:${toB64url(await sign(device.signing, message))}`;
}

async function send(auth, method, url, body, type) {
  const headers = type ? { "Content-Type": type } : {};
  if (auth.device) headers.Authorization = await deviceHeader(auth.device, method, url, body || new Uint8Array(0));
  else if (auth.csrf) headers["X-CSRF-Token"] = auth.csrf;
  try {
    return await fetch(url, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  } catch (error) {
    throw new UploadError("网络中断：已上传的部分保留在乡镇，联网后会接着上传", 0);
  }
}

async function call(auth, method, url, { json, bytes } = {}) {
  const body = json ? utf8.encode(JSON.stringify(json)) : bytes;
  const type = json ? "application/json" : bytes ? "application/octet-stream" : null;
  let response = await send(auth, method, url, body, type);
  if (response.status === 401 && auth.device) {
    // The township does not know this phone (any more): the session, if there is one.
    auth.device = null;
    auth.csrf = (await call(auth, "GET", BASE)).csrf_token;
    response = await send(auth, method, url, body, type);
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new UploadError(answer.detail || `上传失败（${response.status}）`, response.status);
  return answer;
}

async function whose(userId) {
  if (userId !== undefined) return userId;
  const session = await currentUser();
  if (!session.user) throw new UploadError("请先联网登录村代办账号", 401);
  return session.user.id;
}

/** The photos of a case (the phone's draft id) not yet on the server, oldest first. */
export async function pendingUploads(caseId, userId) {
  return (await photos.listPhotos(await whose(userId), caseId)).filter((photo) => !photo.uploaded);
}

/**
 * Send every pending photo of a case; resolves to { photos, sent, unlinked } (sent: bytes that
 * went up this time; unlinked: photos on the server that no case has taken yet).
 * `onProgress({ done, total, photo, photos })` after each chunk, in bytes.
 * Throws UploadError; what arrived stays on the server and the next call resumes from there.
 * `recheck`: declare the photos marked sent too (the outbox, before it sends a case and after
 * the worker sent one): the township removes uploads no case took within 30 days
 * (server/agent/upload_limits.py), and a declaration costs a few hundred bytes, so a case
 * finished late still brings its photos; `unlinked` then says the case must be sent again.
 */
export async function uploadPhotos(caseId, onProgress = () => {}, userId = undefined, { recheck = false } = {}) {
  const uid = await whose(userId);
  const pending = recheck ? await photos.listPhotos(uid, caseId) : await pendingUploads(caseId, uid);
  if (!pending.length) return { photos: 0, sent: 0, unlinked: 0 };
  const auth = await credentials(uid);
  if (!auth.device) auth.csrf = (await call(auth, "GET", BASE)).csrf_token;
  const total = pending.reduce((sum, photo) => sum + photo.size, 0);
  let done = 0;
  let sent = 0;
  let unlinked = 0;
  for (const [n, photo] of pending.entries()) {
    const bytes = await photos.photoBytes(uid, photo.id);
    const declared = { draft_id: caseId, material: photo.material, sha256: photo.sha256,
      size: bytes.length, media_type: photo.type };
    let state;
    try {
      state = await call(auth, "POST", BASE, { json: declared });
    } catch (error) {
      // Refused now (the township's limit on unsent photos, say): on the phone again.
      if (photo.uploaded && error.status) await photos.markUploaded(uid, photo.id, false);
      throw error;
    }
    // Marked sent, but the township lacks it now (removed after 30 days): on the phone again
    // until it is whole there, so a cut here cannot leave the case without it unnoticed.
    const lacked = state.missing.length > 0;
    if (photo.uploaded && lacked) await photos.markUploaded(uid, photo.id, false);
    const size = (idx) => Math.min(state.chunk_size, bytes.length - idx * state.chunk_size);
    done += bytes.length - state.missing.reduce((sum, idx) => sum + size(idx), 0);
    for (const idx of state.missing) {
      const part = bytes.subarray(idx * state.chunk_size, idx * state.chunk_size + size(idx));
      state = await call(auth, "PUT", `${BASE}/${state.id}/chunks/${idx}`, { bytes: part });
      done += part.length;
      sent += part.length;
      onProgress({ done, total, photo: n + 1, photos: pending.length });
    }
    if (!state.complete) throw new UploadError("乡镇还没有收齐这张照片，请稍后再试", 409);
    if (!state.linked) unlinked += 1;
    if (!photo.uploaded || lacked) await photos.markUploaded(uid, photo.id);
  }
  return { photos: pending.length, sent, unlinked };
}

/** Withdraw an uploaded photo the agent removes on the phone (before its case is sent). */
export async function withdrawPhoto(userId, photo) {
  const declared = { draft_id: photo.draft, material: photo.material, sha256: photo.sha256,
    size: photo.size, media_type: photo.type };
  try {
    const auth = await credentials(userId);
    if (!auth.device) auth.csrf = (await call(auth, "GET", BASE)).csrf_token;
    const { id } = await call(auth, "POST", BASE, { json: declared }); // the same upload again
    await call(auth, "DELETE", `${BASE}/${id}`);
  } catch (error) {
    if (error.status === 0) throw new UploadError("这张照片已上传，删除要先联网告诉乡镇：请联网后再删除", 0);
    // Refused as a new declaration (the limit on unsent photos, say): the township holds no
    // such upload, since one it holds is always answered. Nothing to withdraw.
    if (error.status === 422) return;
    throw error;
  }
}
photos.setWithdraw(withdrawPhoto);

/** The "上传照片" button ([data-upload-photos]) of a case on the phone, until the outbox
 * flush sends photos by itself. `draftId()` is the case's id on the phone, or null. */
export function mountUpload(root, userId, draftId) {
  const button = root.querySelector("[data-upload-photos]");
  const status = root.querySelector("[data-upload-status]");
  if (!button) return;
  button.onclick = async () => {
    const id = await draftId(false);
    if (!id || !(await pendingUploads(id, userId)).length) {
      status.textContent = "没有要上传的照片。";
      return;
    }
    button.disabled = true;
    status.textContent = "正在上传照片…";
    try {
      const kb = (n) => Math.round(n / 1024);
      const result = await uploadPhotos(id, (p) => {
        status.textContent = `正在上传第 ${p.photo}/${p.photos} 张：${kb(p.done)} / ${kb(p.total)} KB`;
      }, userId);
      status.textContent = `照片已全部上传到乡镇（${result.photos} 张）。`;
    } catch (error) {
      status.textContent = error instanceof UploadError ? error.message : "上传失败，请稍后再试";
    } finally {
      button.disabled = false;
      root.dispatchEvent(new CustomEvent("yc:photos"));
    }
  };
}
