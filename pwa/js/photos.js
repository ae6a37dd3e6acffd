// Photos of the materials on the agent's intake form: taken with the camera (or picked), made
// small on the phone (shrink.js: at most 1600 px, about 300 KB) and kept only encrypted under
// the vault's data key. A record is { id, draft, meta, image }: `draft` (the draft's
// random id) is the one thing in clear, so that a draft's photos are found by an index; the
// material, size and hash (meta) and the JPEG itself (image) are AES-GCM, each bound to the
// record's id. upload.js sends them; nothing else reads them.
import { randomBytes, toHex } from "./bytes.js";
import * as idb from "./idb.js";
import { shrink } from "./shrink.js";
import * as vault from "./vault.js";

const THUMB_PX = 96;

let withdraw = null; // upload.js: tell the township to forget a photo it has already

/** upload.js registers how an uploaded photo is withdrawn (a hook, to avoid an import cycle). */
export function setWithdraw(fn) {
  withdraw = fn;
}

const metaLabel = (id) => `yc-photo-meta:${id}`;
const imageLabel = (id) => `yc-photo:${id}`;

/** Take a photo for a material of a draft; returns its meta. */
export async function addPhoto(userId, draftId, material, file) {
  const { bytes, width, height, quality } = await shrink(file);
  const id = toHex(randomBytes(16));
  const sha256 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
  const meta = { id, draft: draftId, material, sha256, size: bytes.length, width, height, quality,
    type: "image/jpeg", taken: Date.now(), uploaded: false };
  const record = { id, draft: draftId, meta: await vault.encrypt(meta, metaLabel(id)),
    image: await vault.encryptBytes(bytes, imageLabel(id)) };
  await idb.put(idb.userDb(userId), idb.PHOTOS, record);
  return meta;
}

/** A draft's photos (their meta), oldest first. */
export async function listPhotos(userId, draftId) {
  const records = await idb.getAllBy(idb.userDb(userId), idb.PHOTOS, "draft", draftId);
  const metas = await Promise.all(records.map((r) => vault.decrypt(r.meta, metaLabel(r.id))));
  return metas.sort((a, b) => a.taken - b.taken);
}

export async function photoBytes(userId, id) {
  const record = await idb.get(idb.userDb(userId), idb.PHOTOS, id);
  return vault.decryptBytes(record.image, imageLabel(id));
}

/** Mark a photo sent to the township (or, with `uploaded` false, not there any more). */
export async function markUploaded(userId, id, uploaded = true) {
  const name = idb.userDb(userId);
  const record = await idb.get(name, idb.PHOTOS, id);
  const meta = { ...(await vault.decrypt(record.meta, metaLabel(id))), uploaded };
  await idb.put(name, idb.PHOTOS, { ...record, meta: await vault.encrypt(meta, metaLabel(id)) });
}

export function removePhoto(userId, id) {
  return idb.remove(idb.userDb(userId), idb.PHOTOS, id);
}

// --- on the intake form: a camera button and thumbnails under each material ------------------

const shownUrls = new Set();
const redraws = new WeakMap(); // root → its redraw, run on "yc:photos" (upload.js sent some)

function element(tag, props = {}, ...children) {
  const el = Object.assign(document.createElement(tag), props);
  el.append(...children);
  return el;
}

async function thumb(userId, meta, redraw) {
  const url = URL.createObjectURL(new Blob([await photoBytes(userId, meta.id)], { type: meta.type }));
  shownUrls.add(url);
  const img = element("img", { src: url, width: THUMB_PX, alt: `${meta.material}的照片` });
  const facts = element("small", { className: "hint", textContent: ` ${Math.round(meta.size / 1024)} KB ` });
  const tag = meta.uploaded ? element("span", { className: "tag", textContent: "已上传" }) : "";
  const remove = element("button", { type: "button", className: "link", textContent: "删除" });
  const problem = element("small", { className: "error" });
  problem.setAttribute("role", "alert");
  remove.onclick = async () => {
    try {
      if (meta.uploaded) await withdraw(userId, meta); // the township must forget it first
    } catch (error) {
      problem.textContent = error.message;
      return;
    }
    await removePhoto(userId, meta.id);
    await redraw();
  };
  return element("li", {}, img, facts, tag, " ", remove, problem);
}

/**
 * Put a camera input and the thumbnails under every material of the form in `root`
 * (fieldset.material[data-material]). `draftId()` resolves to the draft's id, saving it first
 * when it has none yet. Run again after the materials are drawn anew.
 */
export async function mountPhotos(root, userId, draftId) {
  const redraw = async () => {
    const id = await draftId(false);
    const photos = id ? await listPhotos(userId, id) : [];
    shownUrls.forEach((url) => URL.revokeObjectURL(url));
    shownUrls.clear();
    for (const box of root.querySelectorAll("[data-photo-list]")) {
      const mine = photos.filter((p) => p.material === box.dataset.photoList);
      box.replaceChildren(...(await Promise.all(mine.map((p) => thumb(userId, p, redraw)))));
    }
  };
  for (const fieldset of root.querySelectorAll("fieldset.material[data-material]")) {
    if (fieldset.querySelector("[data-photo-list]")) continue;
    const material = fieldset.dataset.material;
    const list = element("ul", { className: "plain photos" });
    list.dataset.photoList = material;
    const input = element("input", { type: "file", accept: "image/*", multiple: true });
    input.setAttribute("capture", "environment");
    input.setAttribute("aria-label", `给“${material}”拍照`);
    const note = element("small", { className: "hint" });
    note.setAttribute("role", "status");
    input.onchange = async () => {
      const files = [...input.files];
      input.value = "";
      note.textContent = "正在压缩并加密保存照片…";
      try {
        const id = await draftId(true);
        for (const file of files) await addPhoto(userId, id, material, file);
        note.textContent = `已加密保存 ${files.length} 张照片。`;
      } catch (error) {
        console.warn("photo not kept:", error);
        note.textContent = "这张照片无法读取或保存，请重新拍照（支持手机相机拍的 JPEG、PNG 图片）。";
      }
      await redraw();
    };
    fieldset.append(element("div", { className: "field" }, element("label", { textContent: "拍照 " }, input), note, list));
  }
  root.removeEventListener("yc:photos", redraws.get(root));
  redraws.set(root, redraw);
  root.addEventListener("yc:photos", redraw);
  await redraw();
}
