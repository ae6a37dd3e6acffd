// Sealed envelopes, format version 1, byte for byte as sync/envelope.py (docs/envelope.md):
// header ‖ AES-256-GCM(content key, nonce, payload, aad = header) ‖ ECDSA P-256 r‖s signature.
// One function seals, one opens; refusals carry the same reason codes as Python's, checked in
// the same order (size, layout, sender, signature, then decryption and inflating).
import { concat, equal, randomBytes, toHex, utf8 } from "./bytes.js";
import { available, deflate, inflate } from "./deflate.js";
import * as hpke from "./hpke.js";
import { sign, verify } from "./keys.js";

const subtle = crypto.subtle;
const MAGIC = utf8.encode("YCEN");
const [VERSION, SUITE, FIXED, ENTRY, TAG, SIG] = [1, 1, 33, 129, 16, 64];
const MAX_CREATED = 253402300799999; // 9999-12-31T23:59:59.999Z
export const LIMITS = { maxSize: 4 * 1024 * 1024, maxPayload: 16 * 1024 * 1024 };
export const MESSAGES = {
  malformed: "数据包格式不正确，无法读取。",
  unsupported_version: "数据包的格式版本不受支持，请升级系统。",
  unsupported_suite: "数据包使用的密码算法不受支持。",
  unknown_sender: "发送方未登记或其密钥已被吊销。",
  bad_signature: "数据包签名无效，内容可能在途中被改动。",
  not_a_recipient: "本节点不是该数据包的接收方。",
  decrypt_failed: "数据包无法解密。",
  too_large: "数据包或其内容超过大小上限。",
};

export class EnvelopeRefused extends Error {
  constructor(reason, detail = "") {
    super(MESSAGES[reason]);
    this.reason = reason;
    this.detail = detail;
  }
}

const refuse = (reason, detail) => new EnvelopeRefused(reason, detail);
const info = (sender) => concat(utf8.encode("yc-envelope"), Uint8Array.of(VERSION, SUITE), sender);
const aesKey = (raw, use) => subtle.importKey("raw", raw, "AES-GCM", false, [use]);

/** The envelope id: SHA-256 hex of the signed bytes (everything but the signature). */
export async function envelopeId(data) {
  return toHex(new Uint8Array(await subtle.digest("SHA-256", data.slice(0, -SIG))));
}

/** Seal `payload` from `sender` {keyId, signing} to `recipients` [{keyId, receiving: point}];
 * `kind` 0–255 is the caller's type, `created` Unix milliseconds. */
export async function seal(payload, { sender, recipients, kind = 0, created = Date.now() }) {
  if (payload.length > LIMITS.maxPayload) throw new RangeError("payload over the limit");
  if (recipients.length < 1 || recipients.length > 32) throw new RangeError("1–32 recipients");
  let [body, compression] = [payload, 0];
  if (available) {
    const deflated = await deflate(payload);
    if (deflated.length < payload.length) [body, compression] = [deflated, 1];
  }
  const contentKey = randomBytes(32);
  const nonce = randomBytes(12);
  const entries = [];
  for (const r of recipients) {
    entries.push(r.keyId, await hpke.seal(r.receiving, info(sender.keyId), contentKey));
  }
  const fixed = new Uint8Array(FIXED);
  fixed.set(MAGIC);
  fixed.set([VERSION, SUITE, kind, compression], 4);
  new DataView(fixed.buffer).setBigUint64(8, BigInt(created));
  fixed.set(sender.keyId, 16);
  fixed[32] = recipients.length;
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, body.length + TAG);
  const header = concat(fixed, ...entries, nonce, length);
  const params = { name: "AES-GCM", iv: nonce, additionalData: header };
  const ct = await subtle.encrypt(params, await aesKey(contentKey, "encrypt"), body);
  const signed = concat(header, new Uint8Array(ct));
  return concat(signed, await sign(sender.signing, signed));
}

function parse(data) {
  if (data.length < 6 || !equal(data.slice(0, 4), MAGIC)) throw refuse("malformed", "magic");
  if (data[4] !== VERSION) throw refuse("unsupported_version");
  if (data[5] !== SUITE) throw refuse("unsupported_suite");
  if (data.length < FIXED) throw refuse("malformed", "truncated header");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = data[32];
  const created = Number(view.getBigUint64(8));
  if (data[7] > 1 || created > MAX_CREATED || count < 1 || count > 32) {
    throw refuse("malformed", "header fields");
  }
  const offset = FIXED + count * ENTRY;
  const headerSize = offset + 16;
  if (data.length < headerSize + TAG + SIG) throw refuse("malformed", "truncated");
  const length = view.getUint32(offset + 12);
  if (length < TAG || data.length !== headerSize + length + SIG) throw refuse("malformed", "sizes");
  const entries = [];
  for (let at = FIXED; at < offset; at += ENTRY) {
    entries.push({ keyId: data.slice(at, at + 16), enc: data.slice(at + 16, at + 81), sealed: data.slice(at + 81, at + ENTRY) });
  }
  return {
    kind: data[6], compression: data[7], created, sender: data.slice(16, 32), entries,
    nonce: data.slice(offset, offset + 12), header: data.slice(0, headerSize),
    ciphertext: data.slice(headerSize, headerSize + length),
  };
}

/** Open an envelope for one of `me` [{keyId, receiving: private ECDH key, receivingPoint}]
 * (every key generation); `senderLookup(keyId)` answers {keyId, signing: point} or null. */
export async function openEnvelope(data, { me, senderLookup, ...limits }) {
  const { maxSize, maxPayload } = { ...LIMITS, ...limits };
  if (data.length > maxSize) throw refuse("too_large");
  const parsed = parse(data);
  const sender = await senderLookup(parsed.sender);
  if (!sender || !equal(sender.keyId, parsed.sender)) throw refuse("unknown_sender");
  if (!(await verify(sender.signing, data.slice(-SIG), data.slice(0, -SIG)))) {
    throw refuse("bad_signature");
  }
  const entry = parsed.entries.find((e) => me.some((keys) => equal(keys.keyId, e.keyId)));
  if (!entry) throw refuse("not_a_recipient");
  const mine = me.find((keys) => equal(keys.keyId, entry.keyId));
  let body;
  try {
    const i = info(parsed.sender);
    const contentKey = await hpke.open(mine.receiving, mine.receivingPoint, i, entry.enc, entry.sealed);
    const params = { name: "AES-GCM", iv: parsed.nonce, additionalData: parsed.header };
    body = new Uint8Array(await subtle.decrypt(params, await aesKey(contentKey, "decrypt"), parsed.ciphertext));
  } catch (error) {
    throw refuse("decrypt_failed");
  }
  if (parsed.compression === 1) {
    body = await inflate(body, maxPayload).catch((error) => Promise.reject(refuse(error.reason)));
  } else if (body.length > maxPayload) throw refuse("too_large");
  return {
    envelopeId: await envelopeId(data), sender: parsed.sender, kind: parsed.kind,
    created: parsed.created, recipients: parsed.entries.map((e) => e.keyId), payload: body,
  };
}
