// HPKE (RFC 9180) base mode, single shot, for the envelope's content key: DHKEM(P-256,
// HKDF-SHA256), HKDF-SHA256, AES-256-GCM, composed from WebCrypto (docs/envelope.md §5).
// HKDF is written as HMAC (RFC 5869): every output here is one block (at most 32 bytes).
import { EMPTY, concat, utf8 } from "./bytes.js";

const subtle = crypto.subtle;
const P256 = { name: "ECDH", namedCurve: "P-256" };
const KEM_SUITE = concat(utf8.encode("KEM"), Uint8Array.of(0x00, 0x10));
const VERSION_LABEL = utf8.encode("HPKE-v1");
const ZERO_KEY = new Uint8Array(32); // an empty HMAC key, as engines that refuse one need it
const KEY_SIZE = { 1: 16, 2: 32 }; // AEAD id → Nk: AES-128-GCM (RFC vectors), AES-256-GCM

function hpkeSuite(aead) {
  return concat(utf8.encode("HPKE"), Uint8Array.of(0x00, 0x10, 0x00, 0x01, 0x00, aead));
}

async function hmac(key, data) {
  const usable = key.length ? key : ZERO_KEY;
  const k = await subtle.importKey("raw", usable, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await subtle.sign("HMAC", k, data));
}

function labeledExtract(suite, salt, label, ikm) {
  return hmac(salt, concat(VERSION_LABEL, suite, utf8.encode(label), ikm));
}

async function labeledExpand(suite, prk, label, info, length) {
  const labeled = concat(Uint8Array.of(0, length), VERSION_LABEL, suite, utf8.encode(label), info);
  return (await hmac(prk, concat(labeled, Uint8Array.of(1)))).slice(0, length);
}

async function dh(privateKey, publicPoint) {
  const pub = await subtle.importKey("raw", publicPoint, P256, false, []); // validates, §7.1.4
  return new Uint8Array(await subtle.deriveBits({ name: "ECDH", public: pub }, privateKey, 256));
}

async function schedule(aead, dhBytes, enc, pkR, info) {
  const prk = await labeledExtract(KEM_SUITE, EMPTY, "eae_prk", dhBytes);
  const sharedSecret = await labeledExpand(KEM_SUITE, prk, "shared_secret", concat(enc, pkR), 32);
  const suite = hpkeSuite(aead);
  const pskIdHash = await labeledExtract(suite, EMPTY, "psk_id_hash", EMPTY);
  const infoHash = await labeledExtract(suite, EMPTY, "info_hash", info);
  const context = concat(Uint8Array.of(0), pskIdHash, infoHash);
  const secret = await labeledExtract(suite, sharedSecret, "secret", EMPTY);
  const key = await labeledExpand(suite, secret, "key", context, KEY_SIZE[aead]);
  const baseNonce = await labeledExpand(suite, secret, "base_nonce", context, 12);
  return { sharedSecret, context, secret, key, baseNonce };
}

async function aeadKey(raw, usage) {
  return subtle.importKey("raw", raw, "AES-GCM", false, [usage]);
}

/** Seal with a given ephemeral key pair; every intermediate value is returned for the tests. */
async function sealWithEphemeral(aead, pkR, info, aad, plaintext, ephemeral) {
  const enc = new Uint8Array(await subtle.exportKey("raw", ephemeral.publicKey));
  const values = await schedule(aead, await dh(ephemeral.privateKey, pkR), enc, pkR, info);
  const key = await aeadKey(values.key, "encrypt");
  const params = { name: "AES-GCM", iv: values.baseNonce, additionalData: aad };
  const ct = new Uint8Array(await subtle.encrypt(params, key, plaintext));
  return { enc, ct, ...values };
}

/** Seal `plaintext` to the receiving point `pkR`: enc (65 bytes) ‖ ciphertext. */
export async function seal(pkR, info, plaintext) {
  const ephemeral = await subtle.generateKey(P256, false, ["deriveBits"]);
  const sealed = await sealWithEphemeral(2, pkR, info, EMPTY, plaintext, ephemeral);
  return concat(sealed.enc, sealed.ct);
}

/** Open what `seal` made, with the receiving private key `skR` and its point `pkR`.
 * Throws on an invalid point or a failed tag (the caller maps both to decrypt_failed). */
export async function open(skR, pkR, info, enc, ct, aead = 2, aad = EMPTY) {
  const values = await schedule(aead, await dh(skR, enc), enc, pkR, info);
  const key = await aeadKey(values.key, "decrypt");
  const params = { name: "AES-GCM", iv: values.baseNonce, additionalData: aad };
  return new Uint8Array(await subtle.decrypt(params, key, ct));
}

// For the deterministic vectors of tests/vectors/hpke.json only; production seals with `seal`.
export const testing = { sealWithEphemeral };
