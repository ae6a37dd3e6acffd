// A node's or a device's two P-256 key pairs (signing: ECDSA, receiving: ECDH for HPKE), their
// key id and P1363 signatures, as sync/keys.py has them (docs/envelope.md §1).
import { concat, equal, fromB64url, fromHex, toB64url, toHex, utf8 } from "./bytes.js";

const subtle = crypto.subtle;
const ECDSA_KEY = { name: "ECDSA", namedCurve: "P-256" };
const ECDH_KEY = { name: "ECDH", namedCurve: "P-256" };
const ECDSA = { name: "ECDSA", hash: "SHA-256" };
const N = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

/** SHA-256("yc-key-v1" ‖ signing point ‖ receiving point), first 16 bytes. */
export async function keyId(signing, receiving) {
  const label = utf8.encode("yc-key-v1");
  const digest = await subtle.digest("SHA-256", concat(label, signing, receiving));
  return new Uint8Array(digest).slice(0, 16);
}

/** Fresh keys; the private halves cannot be exported (they stay in this browser). */
export async function generateKeys() {
  const signing = await subtle.generateKey(ECDSA_KEY, false, ["sign", "verify"]);
  const receiving = await subtle.generateKey(ECDH_KEY, false, ["deriveBits"]);
  const signingPoint = new Uint8Array(await subtle.exportKey("raw", signing.publicKey));
  const receivingPoint = new Uint8Array(await subtle.exportKey("raw", receiving.publicKey));
  return {
    keyId: await keyId(signingPoint, receivingPoint),
    signing: signing.privateKey,
    receiving: receiving.privateKey,
    signingPoint,
    receivingPoint,
  };
}

/** The public half as the key directory carries it (base64url, unpadded). */
export function publicJson(keys) {
  return {
    key_id: toB64url(keys.keyId),
    signing: toB64url(keys.signingPoint),
    receiving: toB64url(keys.receivingPoint),
  };
}

/** Parse a directory entry; a key id that does not match its keys is refused. */
export async function publicFromJson(entry) {
  const signing = fromB64url(entry.signing);
  const receiving = fromB64url(entry.receiving);
  const id = await keyId(signing, receiving);
  if (entry.key_id && !equal(fromB64url(entry.key_id), id)) throw new Error("key_id mismatch");
  return { keyId: id, signing, receiving };
}

/** ECDSA P-256 SHA-256 as r ‖ s with low S (either S verifies; low S is what Python writes). */
export async function sign(privateKey, data) {
  const signature = new Uint8Array(await subtle.sign(ECDSA, privateKey, data));
  const s = BigInt("0x" + toHex(signature.slice(32)));
  if (s <= N >> 1n) return signature;
  return concat(signature.slice(0, 32), fromHex((N - s).toString(16).padStart(64, "0")));
}

export async function verify(signingPoint, signature, data) {
  const key = await subtle.importKey("raw", signingPoint, ECDSA_KEY, false, ["verify"]);
  return subtle.verify(ECDSA, key, signature, data);
}
