// /agent/new: the offline intake form, driven by the cached catalogue. The same checks as
// the window, field by field (validate.js); saved encrypted on the phone as a draft on every
// pause in typing and on "保存草稿", or as "待发送" once it passes every check.
import { itemById, limitText, loadCatalogue } from "./catalog.js";
import { loadDraft, saveDraft } from "./drafts.js";
import { mountPhotos } from "./photos.js";
import { mountUpload } from "./upload.js";
import { intakeProblems } from "./validate.js";

const FIELDS = ["applicant_kind", "applicant_name", "applicant_id_type", "applicant_id",
  "applicant_phone", "applicant_address"];
const AUTOSAVE_MS = 1500;

function element(tag, props = {}, ...children) {
  const el = Object.assign(document.createElement(tag), props);
  el.append(...children);
  return el;
}

function renderItems(form, catalogue, filter) {
  const select = form.item_id;
  const keep = select.value;
  const shown = catalogue.items.filter((item) => !filter || item.name.includes(filter) || String(item.id) === keep);
  select.replaceChildren(element("option", { value: "", textContent: "请选择事项" }),
    ...shown.map((item) => element("option", { value: String(item.id), textContent: item.name })));
  select.value = keep;
}

function renderMaterials(root, item, ticked = []) {
  const box = root.querySelector("[data-materials]");
  const facts = root.querySelector("[data-item-facts]");
  root.querySelector("[data-materials-empty]").hidden = Boolean(item);
  facts.hidden = !item;
  if (!item) return box.replaceChildren();
  facts.textContent = `承诺时限 ${limitText(item.promised)} · 法定时限 ${limitText(item.statutory)}${item.fee ? " · 收费" : ""}`;
  box.replaceChildren(...item.materials.map((m) => {
    const had = ticked.find((t) => t.name === m.name) || {};
    const box = (name, text) => element("label", {}, element("input", { type: "checkbox", name, value: m.name, checked: Boolean(had[name]) }), ` ${text}`);
    const legend = element("legend", { textContent: m.name }, m.required ? element("span", { className: "req", textContent: "*" }) : "");
    const hint = element("small", { className: "hint", textContent: `原件 ${m.originals} 份，复印件 ${m.copies} 份${m.gap ? " · 可容缺" : ""}` });
    const fieldset = element("fieldset", { className: "material" }, legend, hint, element("div", { className: "pair" }, box("original", "原件"), box("copy", "复印件")));
    fieldset.dataset.material = m.name; // photos.js puts the camera here
    return fieldset;
  }));
}

function collect(form, catalogue, state, id) {
  const item = itemById(catalogue, form.item_id.value);
  const names = [...new Set([...form.querySelectorAll("[data-materials] input:checked")].map((box) => box.value))];
  const ticked = (kind, name) => Boolean(form.querySelector(`input[name="${kind}"][value="${CSS.escape(name)}"]:checked`));
  return {
    id, state,
    item: item && { id: item.id, code: item.code, name: item.name },
    applicant: Object.fromEntries(FIELDS.map((f) => [f.replace("applicant_", ""), form[f].value])),
    materials: names.map((name) => ({ name, original: ticked("original", name), copy: ticked("copy", name) })),
  };
}

function values(form) {
  return Object.fromEntries(FIELDS.map((f) => [f, form[f].value]));
}

function showErrors(form, errors, fields) {
  for (const name of fields) {
    const input = form[name];
    const slot = form.querySelector(`#e-${name}`);
    if (!slot) continue;
    slot.textContent = errors[name] || "";
    input.closest(".field").classList.toggle("has-error", Boolean(errors[name]));
    if (errors[name]) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
}

export async function opened(root, user) {
  const form = root.querySelector("[data-intake]");
  const summary = root.querySelector("[data-intake-summary]");
  const saved = root.querySelector("[data-intake-saved]");
  const catalogue = await loadCatalogue();
  if (!catalogue) {
    summary.hidden = false;
    summary.textContent = "还没有事项目录：请联网打开一次村代办首页。";
    return;
  }
  const params = new URLSearchParams(location.search);
  const draft = params.get("draft") ? await loadDraft(user.id, params.get("draft")) : null;
  let id = draft ? draft.id : null;
  renderItems(form, catalogue, "");
  form.item_id.value = draft && draft.item ? String(draft.item.id) : params.get("item") || "";
  if (draft) for (const f of FIELDS) form[f].value = draft.applicant[f.replace("applicant_", "")] || "";
  renderMaterials(root, itemById(catalogue, form.item_id.value), draft ? draft.materials : []);
  const touched = new Set();
  const check = () => intakeProblems(values(form), Boolean(itemById(catalogue, form.item_id.value)));
  const save = async (state) => {
    id = await saveDraft(user.id, collect(form, catalogue, state, id));
    if (state === "ready") document.dispatchEvent(new CustomEvent("yc:case-ready")); // outbox
    if (!form.isConnected) return; // saved after the agent moved on: nothing to show
    history.replaceState(history.state, "", `/agent/new?draft=${id}`);
    saved.hidden = false;
    saved.textContent = state === "ready" ? "已完成，待发送：已加密保存在本机，联网后发送到乡镇。" : "草稿已加密保存在本机。";
  };
  // Photos belong to the draft: the first one saves the draft so that it has an id.
  const draftId = async (create) => id || (create ? (await save("draft"), id) : null);
  const photos = () => mountPhotos(root, user.id, draftId);
  await photos();
  mountUpload(root, user.id, draftId);
  let timer = 0;
  form.oninput = () => {
    clearTimeout(timer);
    timer = setTimeout(() => save("draft"), AUTOSAVE_MS);
  };
  form.onchange = (event) => {
    if (event.target !== form.item_id) return;
    renderMaterials(root, itemById(catalogue, form.item_id.value));
    photos();
  };
  form.addEventListener("focusout", (event) => {
    if (!event.target.name) return;
    touched.add(event.target.name);
    showErrors(form, check().errors, [...touched]);
  });
  root.querySelector("#f-item-filter").oninput = (event) => renderItems(form, catalogue, event.target.value.trim());
  root.querySelector("[data-save-draft]").onclick = () => save("draft");
  form.onsubmit = async (event) => {
    event.preventDefault();
    clearTimeout(timer);
    const { errors, warnings } = check();
    showErrors(form, errors, ["item_id", ...FIELDS]);
    const count = Object.keys(errors).length;
    summary.hidden = !count && !warnings.length;
    summary.textContent = count ? `有 ${count} 处需要修改，请看下面标红的地方。` : warnings.join("；");
    await save(count ? "draft" : "ready");
  };
}
