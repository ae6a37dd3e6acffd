// The PIN gate on every /agent page (components/_agent.html pin_gate): set a PIN the first
// time, unlock afterwards, the wait after a wrong PIN, the sealed vault. Calls `opened()` once
// the vault is open; the page then shows its [data-vault-content].
import { pinProblem } from "./pin.js";
import * as vault from "./vault.js";

const $ = (root, selector) => root.querySelector(selector);

function show(root, part) {
  for (const name of ["pin-setup", "pin-unlock", "pin-sealed", "need-signin"]) {
    const el = $(root, `[data-${name}]`);
    if (el) el.hidden = name !== part;
  }
}

function say(root, text) {
  $(root, "[data-pin-message]").textContent = text;
}

async function busy(root, work) {
  const indicator = $(root, "[data-pin-busy]");
  const buttons = root.querySelectorAll("[data-vault-gate] button");
  indicator.hidden = false;
  buttons.forEach((button) => (button.disabled = true));
  try {
    return await work();
  } finally {
    indicator.hidden = true;
    buttons.forEach((button) => (button.disabled = false));
  }
}

const seconds = (ms) => Math.ceil(ms / 1000);

function explain(root, result) {
  if (result.reason === "wait") say(root, `请 ${seconds(result.waitMs)} 秒后再试`);
  if (result.reason === "wrong") {
    say(root, `PIN 码不对，还可以再试 ${result.left} 次；请 ${seconds(result.waitMs)} 秒后再试`);
  }
  if (result.reason === "sealed") {
    say(root, "");
    show(root, "pin-sealed");
  }
}

/** Show the gate for `session.user` inside `root`; `opened()` runs when the vault is open. */
export async function gate(root, session, opened) {
  const gateEl = $(root, "[data-vault-gate]");
  const content = root.querySelectorAll("[data-vault-content]");
  const reveal = (open) => {
    gateEl.hidden = open;
    content.forEach((el) => (el.hidden = !open));
  };
  const user = session.user;
  if (!user) {
    reveal(false);
    show(root, session.signedIn ? "" : "need-signin");
    if (session.signedIn) say(root, "离线办件只供村代办员使用。");
    return;
  }
  $(root, "[data-who]").textContent = `${user.name}${session.online ? "" : "（离线）"}`;
  const state = await vault.status(user.id);
  if (state.state === "unlocked") {
    reveal(true);
    return opened();
  }
  reveal(false);
  if (state.state === "sealed") return show(root, "pin-sealed");
  show(root, state.state === "none" ? "pin-setup" : "pin-unlock");
  $(root, "[data-pin-setup]").onsubmit = async (event) => {
    event.preventDefault();
    const form = event.target;
    if (form.pin.value !== form.again.value) return say(root, "两次输入的 PIN 码不一样");
    const problem = pinProblem(form.pin.value);
    if (problem) return say(root, problem);
    await busy(root, () => vault.setup(user.id, form.pin.value));
    form.reset();
    say(root, "");
    reveal(true);
    opened();
  };
  $(root, "[data-pin-unlock]").onsubmit = async (event) => {
    event.preventDefault();
    const form = event.target;
    const result = await busy(root, () => vault.unlock(user.id, form.pin.value));
    form.reset();
    if (!result.ok) return explain(root, result);
    say(root, "");
    reveal(true);
    opened();
  };
}
