"""Sealed envelopes: a payload compressed, encrypted to several recipients and signed.

One function seals (`seal`) and one opens (`open_envelope`); docs/envelope.md gives the byte
layout field by field and how the browser reproduces it with WebCrypto.

    header  = "YCEN" | version | suite | kind | compression | created ms (u64) | sender key id
              | recipient count (u8) | count × (key id | HPKE enc | sealed content key)
              | nonce (12) | ciphertext length (u32)              all integers big-endian
    body    = AES-256-GCM(content key, nonce, compressed payload, associated data = header)
    trailer = ECDSA P-256 SHA-256 signature over header | body, IEEE P1363 r || s (64 bytes)

Invariants:
- The signature is checked before anything is decrypted; the sender comes from `sender_lookup`,
  which answers None for a key that is unknown or revoked.
- The content key is random per envelope and sealed to each recipient with HPKE base mode
  (RFC 9180 §5.1.1, single shot §6.1): DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM,
  whose `info` binds the format version, the suite and the sender's key id.
- An envelope's id is SHA-256 (hex) over its signed bytes, i.e. everything but the signature, so
  the twin that anyone can make of an ECDSA signature (s ↦ n − s) has the same id and a replay
  check by id cannot be side-stepped (STYLE.md §5: applying an envelope twice is a no-op).
- Refusals raise EnvelopeRefused with a stable reason code and a Chinese message.
- Sizes are bounded before work is done: the sealed bytes (`max_size`) and the payload after
  decompression (`max_payload`, which also stops a decompression bomb).

Suite 1 is the only one; suite 2 is kept for SM2/SM3/SM4 (national crypto) and refused today.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from sync.keys import KEY_ID_SIZE, POINT_SIZE, SIGNATURE_SIZE, NodeKeys, PublicKeys
from sync.keys import public_key_from_point as _point

MAGIC = b"YCEN"
FORMAT_VERSION = 1
SUITE_P256 = 1  # DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM; ECDSA P-256 SHA-256
SUITE_SM = 2  # reserved: SM2 / SM3 / SM4
SUITES = frozenset({SUITE_P256})
COMPRESSION_NONE = 0
COMPRESSION_DEFLATE = 1  # zlib (RFC 1950), DecompressionStream("deflate") in browsers
COMPRESSION_LEVEL = 6
INFO_LABEL = b"yc-envelope"
CONTENT_KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
SEALED_KEY_SIZE = CONTENT_KEY_SIZE + TAG_SIZE
ENTRY_SIZE = KEY_ID_SIZE + POINT_SIZE + SEALED_KEY_SIZE  # 129
MAX_RECIPIENTS = 32
DEFAULT_MAX_SIZE = 4 * 1024 * 1024
DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_CREATED_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the end of `datetime`

_FIXED = struct.Struct(">4sBBBBQ16sB")  # magic … recipient count: 33 bytes
_LENGTH = struct.Struct(">I")
_HPKE = Suite(KEM.P256, KDF.HKDF_SHA256, AEAD.AES_256_GCM)

Reason = Literal[
    "malformed",
    "unsupported_version",
    "unsupported_suite",
    "unknown_sender",
    "bad_signature",
    "not_a_recipient",
    "decrypt_failed",
    "too_large",
]
MESSAGES: dict[Reason, str] = {
    "malformed": "数据包格式不正确，无法读取。",
    "unsupported_version": "数据包的格式版本不受支持，请升级系统。",
    "unsupported_suite": "数据包使用的密码算法不受支持。",
    "unknown_sender": "发送方未登记或其密钥已被吊销。",
    "bad_signature": "数据包签名无效，内容可能在途中被改动。",
    "not_a_recipient": "本节点不是该数据包的接收方。",
    "decrypt_failed": "数据包无法解密。",
    "too_large": "数据包或其内容超过大小上限。",
}


class EnvelopeRefused(Exception):
    """An envelope that will not be opened: `reason` for machines, `message` for people."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason: Reason = reason
        self.message = MESSAGES[reason]
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class Opened:
    """What an opened envelope holds."""

    envelope_id: str
    sender: bytes
    kind: int
    created: datetime
    recipients: tuple[bytes, ...]
    payload: bytes


@dataclass(frozen=True)
class _Parsed:
    suite: int
    kind: int
    compression: int
    created_ms: int
    sender: bytes
    entries: tuple[tuple[bytes, bytes], ...]  # (recipient key id, enc || sealed content key)
    nonce: bytes
    header: bytes
    ciphertext: bytes
    signature: bytes


def hpke_info(suite: int, sender_key_id: bytes) -> bytes:
    """HPKE `info` for a content key: label, format version, suite, sender key id."""
    return INFO_LABEL + bytes([FORMAT_VERSION, suite]) + sender_key_id


def envelope_id(data: bytes) -> str:
    """The id of a sealed envelope: SHA-256 hex over everything but its signature."""
    return hashlib.sha256(data[:-SIGNATURE_SIZE]).hexdigest()


def directory_lookup(
    keys: Iterable[PublicKeys], *, revoked: Collection[bytes] = ()
) -> Callable[[bytes], PublicKeys | None]:
    """A `sender_lookup` over known public keys that answers None for revoked key ids."""
    known = {key.key_id: key for key in keys if key.key_id not in revoked}
    return known.get


def peek_sender(data: bytes) -> bytes:
    """The sender's key id, read from the layout alone (nothing verified yet), to find its keys."""
    return _parse(data).sender


def seal(
    payload: bytes,
    *,
    sender: NodeKeys,
    recipients: Sequence[PublicKeys],
    kind: int = 0,
    created: datetime | None = None,
    compress: bool = True,
    max_payload: int = DEFAULT_MAX_PAYLOAD,
) -> bytes:
    """Seal `payload` from `sender` to every recipient; `kind` (0–255) is the caller's type.

    The payload is deflated unless that does not make it smaller (photos, say).
    """
    if len(payload) > max_payload:
        raise ValueError(f"payload of {len(payload)} bytes is over the {max_payload} limit")
    body, compression = payload, COMPRESSION_NONE
    if compress:
        deflated = zlib.compress(payload, COMPRESSION_LEVEL)
        if len(deflated) < len(payload):
            body, compression = deflated, COMPRESSION_DEFLATE
    return _seal_body(
        body,
        compression=compression,
        sender=sender,
        recipients=recipients,
        kind=kind,
        created=datetime.now(UTC) if created is None else created,
        content_key=os.urandom(CONTENT_KEY_SIZE),
        nonce=os.urandom(NONCE_SIZE),
    )


def _seal_body(
    body: bytes,
    *,
    compression: int,
    sender: NodeKeys,
    recipients: Sequence[PublicKeys],
    kind: int,
    created: datetime,
    content_key: bytes,
    nonce: bytes,
) -> bytes:
    """Seal an already compressed body with the content key and nonce given.

    Only `seal` calls it in production; test vectors call it to record the content key and to
    build envelopes that `seal` would never make (a body that does not inflate, a bomb).
    """
    ids = [recipient.key_id for recipient in recipients]
    if not 1 <= len(ids) <= MAX_RECIPIENTS or len(set(ids)) != len(ids):
        raise ValueError(f"an envelope needs 1 to {MAX_RECIPIENTS} distinct recipients")
    if not 0 <= kind <= 255:
        raise ValueError("kind must fit in one byte (0–255)")
    if created.tzinfo is None:
        raise ValueError("created must be time-zone aware")
    created_ms = (created - EPOCH) // timedelta(milliseconds=1)
    if not 0 <= created_ms <= MAX_CREATED_MS:
        raise ValueError("created must lie between 1970 and 9999")
    sender_id = sender.key_id
    info = hpke_info(SUITE_P256, sender_id)
    entries = b"".join(
        recipient.key_id
        + _HPKE.encrypt(content_key, _point(recipient.receiving, "receiving key"), info=info)
        for recipient in recipients
    )
    fixed = (MAGIC, FORMAT_VERSION, SUITE_P256, kind, compression, created_ms, sender_id, len(ids))
    header = _FIXED.pack(*fixed) + entries + nonce + _LENGTH.pack(len(body) + TAG_SIZE)
    signed = header + AESGCM(content_key).encrypt(nonce, body, header)
    return signed + sender.sign(signed)


def open_envelope(
    data: bytes,
    *,
    me: NodeKeys | Sequence[NodeKeys],
    sender_lookup: Callable[[bytes], PublicKeys | None],
    max_size: int = DEFAULT_MAX_SIZE,
    max_payload: int = DEFAULT_MAX_PAYLOAD,
) -> Opened:
    """Check, decrypt and decompress an envelope addressed to one of `me` (every key generation).

    Order: size, layout, sender, signature, then (only then) decryption and decompression.
    """
    if len(data) > max_size:
        raise EnvelopeRefused("too_large", f"{len(data)} bytes, limit {max_size}")
    parsed = _parse(data)
    sender = sender_lookup(parsed.sender)
    if sender is None or sender.key_id != parsed.sender:
        raise EnvelopeRefused("unknown_sender", parsed.sender.hex())
    if not sender.verify(parsed.signature, data[:-SIGNATURE_SIZE]):
        raise EnvelopeRefused("bad_signature")
    mine = {keys.key_id: keys for keys in ([me] if isinstance(me, NodeKeys) else me)}
    entry = next(((key_id, blob) for key_id, blob in parsed.entries if key_id in mine), None)
    if entry is None:
        raise EnvelopeRefused("not_a_recipient")
    try:
        info = hpke_info(parsed.suite, parsed.sender)
        content_key = _HPKE.decrypt(entry[1], mine[entry[0]].receiving, info=info)
        if len(content_key) != CONTENT_KEY_SIZE:
            raise EnvelopeRefused("decrypt_failed", "content key of the wrong size")
        body = AESGCM(content_key).decrypt(parsed.nonce, parsed.ciphertext, parsed.header)
    except InvalidTag:
        raise EnvelopeRefused("decrypt_failed") from None
    if parsed.compression == COMPRESSION_DEFLATE:
        payload = _inflate(body, max_payload)
    elif len(body) > max_payload:
        raise EnvelopeRefused("too_large", f"payload over {max_payload} bytes")
    else:
        payload = body
    return Opened(
        envelope_id=envelope_id(data),
        sender=parsed.sender,
        kind=parsed.kind,
        created=EPOCH + timedelta(milliseconds=parsed.created_ms),
        recipients=tuple(key_id for key_id, _ in parsed.entries),
        payload=payload,
    )


def _parse(data: bytes) -> _Parsed:
    """Split an envelope into its fields; refuses anything that does not fit the layout."""
    if len(data) < len(MAGIC) + 2 or data[:4] != MAGIC:
        raise EnvelopeRefused("malformed", "not an envelope")
    if data[4] != FORMAT_VERSION:
        raise EnvelopeRefused("unsupported_version", f"version {data[4]}")
    if data[5] not in SUITES:
        raise EnvelopeRefused("unsupported_suite", f"suite {data[5]}")
    if len(data) < _FIXED.size:
        raise EnvelopeRefused("malformed", "truncated header")
    _, _, suite, kind, compression, created_ms, sender, count = _FIXED.unpack_from(data)
    if compression not in (COMPRESSION_NONE, COMPRESSION_DEFLATE):
        raise EnvelopeRefused("malformed", f"compression {compression}")
    if created_ms > MAX_CREATED_MS:
        raise EnvelopeRefused("malformed", "creation time out of range")
    if not 1 <= count <= MAX_RECIPIENTS:
        raise EnvelopeRefused("malformed", f"{count} recipients")
    offset = _FIXED.size + count * ENTRY_SIZE
    header_size = offset + NONCE_SIZE + _LENGTH.size
    if len(data) < header_size + TAG_SIZE + SIGNATURE_SIZE:
        raise EnvelopeRefused("malformed", "truncated")
    (length,) = _LENGTH.unpack_from(data, offset + NONCE_SIZE)
    if length < TAG_SIZE or len(data) != header_size + length + SIGNATURE_SIZE:
        raise EnvelopeRefused("malformed", "the lengths do not add up")
    entries = tuple(
        (
            data[start : start + KEY_ID_SIZE],
            data[start + KEY_ID_SIZE : start + ENTRY_SIZE],
        )
        for start in range(_FIXED.size, offset, ENTRY_SIZE)
    )
    return _Parsed(
        suite=suite,
        kind=kind,
        compression=compression,
        created_ms=created_ms,
        sender=sender,
        entries=entries,
        nonce=data[offset : offset + NONCE_SIZE],
        header=data[:header_size],
        ciphertext=data[header_size : header_size + length],
        signature=data[-SIGNATURE_SIZE:],
    )


def _inflate(body: bytes, limit: int) -> bytes:
    """zlib-decompress at most `limit` bytes; more is a bomb (too_large), junk is malformed."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise EnvelopeRefused("malformed", "the payload does not decompress") from None
    if len(out) > limit:
        raise EnvelopeRefused("too_large", f"payload over {limit} bytes after decompression")
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        raise EnvelopeRefused("malformed", "the compressed payload is cut short or padded")
    return out
