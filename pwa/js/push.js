// "在本设备接收推送": subscribes this browser to Web Push (an enhancement; the message centre
// works without it). Attaches to [data-push-subscribe] (the subscriptions URL) with
// data-push-key (the VAPID key URL); the button stays hidden where the browser has no push or
// no service worker. Re-initialises on htmx:load.

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
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: bytes(key.public_key),
    });
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
