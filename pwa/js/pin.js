// The PIN: what a PIN may be, and the key derived from it (PBKDF2-SHA256, iterations
// calibrated on this phone to about one second and never fewer than 310,000: OWASP's figure
// for PBKDF2-HMAC-SHA256). The vault (vault.js) stores the salt and the count with its keys.
import { randomBytes, utf8 } from "./bytes.js";

const subtle = crypto.subtle;
export const MIN_ITERATIONS = 310000;
const TARGET_MS = 1000;

/** PIN rules, in Chinese: 6–8 digits, not one repeated digit, not a straight run. */
export function pinProblem(pin) {
  if (!/^[0-9]{6,8}$/.test(pin)) return "PIN 码应为 6–8 位数字";
  const steps = new Set([...pin].slice(1).map((d, i) => Number(d) - Number(pin[i])));
  if (steps.size === 1 && [0, 1, -1].includes([...steps][0])) return "PIN 码太容易猜到，请换一个";
  return null;
}

export async function pinKey(pin, salt, iterations) {
  const base = await subtle.importKey("raw", utf8.encode(pin), "PBKDF2", false, ["deriveKey"]);
  const params = { name: "PBKDF2", hash: "SHA-256", salt, iterations };
  const aes = { name: "AES-GCM", length: 256 };
  return subtle.deriveKey(params, base, aes, false, ["encrypt", "decrypt"]);
}

/** Iterations for about TARGET_MS on this phone, measured now, at least MIN_ITERATIONS. */
export async function calibrate() {
  const probe = 100000;
  const start = performance.now();
  await pinKey("000000", randomBytes(16), probe);
  const perMs = probe / Math.max(1, performance.now() - start);
  return Math.max(MIN_ITERATIONS, Math.round((perMs * TARGET_MS) / 10000) * 10000);
}
