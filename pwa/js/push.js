// "在本设备接收推送": subscribes this browser to Web Push (an enhancement; the message centre
// works without it). Attaches to [data-push-subscribe] (the subscriptions URL) with
// data-push-key (the VAPID key URL); the button stays hidden where the browser has no push or
// no service worker. Loaded on every page (base.html) and re-initialised on htmx:load, since a
// boosted navigation to the preferences page runs no script of that page.
//
// Chrome subscribes through Google's push service, which mainland China does not reach: then
// pushManager.subscribe() neither succeeds nor fails, it waits. After data-push-wait
// milliseconds the button says so (the message centre still works); should the subscription
// come through later, it is registered with the server all the same.

const WAIT_MS = 15000;

/** @param {string} text base64url */
function bytes(text) {
  const padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function csrfToken() {
  const holder = document.querySelector("[hx-headers]");
  try {
    return JSON.parse(holder?.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
  } catch {
    return "";
  }
}

/** @param {HTMLButtonElement} button */
async function subscribe(button) {
  button.disabled = true;
  try {
    if ((await Notification.requestPermission()) !== "granted") {
      button.textContent = "浏览器未允许通知";
      return;
    }
    const registration = await navigator.serviceWorker.ready;
    const key = await (await fetch(button.dataset.pushKey || "", { credentials: "same-origin" })).json();
    const pending = registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: bytes(key.public_key),
    });
    const wait = Number(button.dataset.pushWait) || WAIT_MS;
    const late = new Promise((resolve) => setTimeout(() => resolve(null), wait));
    if ((await Promise.race([pending, late])) === null) {
      button.textContent = "推送服务暂时连不上，消息仍会在消息中心显示";
    }
    const subscription = await pending;
    const response = await fetch(button.dataset.pushSubscribe || "", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(subscription.toJSON()),
    });
    button.textContent = response.ok ? "本设备已开启推送" : "开启失败，请稍后再试";
  } catch {
    button.textContent = "本设备暂不能接收推送";
  }
}

function init() {
  const supported = "serviceWorker" in navigator && "PushManager" in window;
  for (const button of document.querySelectorAll("button[data-push-subscribe]")) {
    if (!(button instanceof HTMLButtonElement) || button.dataset.pushReady) continue;
    button.dataset.pushReady = "1";
    if (!supported) continue;
    button.hidden = false;
    button.addEventListener("click", () => subscribe(button));
  }
}

init();
document.addEventListener("htmx:load", init);
