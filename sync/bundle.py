"""A bundle: sealed envelopes framed into one signed file, for a link that is a USB stick.

When a township has no link at all, the same sealed envelopes the HTTP streams carry are written
to a file, carried to the county and imported there; the county's answer travels back the same
way (docs/sync.md, "Bundles"). This module only frames and signs; what the frames mean is the
caller's business.

    bundle = "YCBD" | version (u8) | sender key id (16) | header length (u32) | header
             | frame count (u32) | count × (frame length (u32) | sealed envelope)
             | signature: ECDSA P-256 SHA-256 over everything before it, r || s (64 bytes)
    header = canonical JSON {"created", "from", "kind", "to", "types": [one per frame]}
             (all integers big-endian)

Invariants:
- The whole file is signed by the sender's current key, the one that also signs every envelope
  inside. The signature is checked before the header is trusted; each envelope is still opened
  (and checked) on its own by the receiver, so a bundle adds no way in that HTTP does not have.
- `peek` reads the layout only (to find the sender's keys); `open_bundle` verifies and refuses
  a bundle addressed to another node. Refusals raise BundleRefused with a stable reason and a
  Chinese message.
- Sizes are bounded before work is done (`max_size`, frame count); a frame is never empty.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sync.chain import canonical
from sync.keys import KEY_ID_SIZE, SIGNATURE_SIZE, NodeKeys, PublicKeys

MAGIC = b"YCBD"
FORMAT_VERSION = 1
DEFAULT_MAX_SIZE = 512 * 1024 * 1024
MAX_FRAMES = 100_000
MAX_HEADER = 4 * 1024 * 1024
_FIXED = struct.Struct(f">4sB{KEY_ID_SIZE}sI")  # magic, version, sender key id, header length
_COUNT = struct.Struct(">I")

Reason = Literal[
    "malformed", "unsupported_version", "too_large", "unknown_sender", "bad_signature", "not_for_us"
]
MESSAGES: dict[Reason, str] = {
    "malformed": "文件不是一窗同步数据包，或已损坏（可能没有拷贝完整）。",
    "unsupported_version": "同步数据包的格式版本不受支持，请升级系统。",
    "too_large": "同步数据包超过大小上限。",
    "unknown_sender": "数据包的发送方未登记，或其密钥已被吊销。",
    "bad_signature": "数据包签名无效，文件在导出后被改动过。",
    "not_for_us": "这个数据包不是发给本节点的。",
}


class BundleRefused(Exception):
    """A bundle that will not be read: `reason` for machines, `message` for people."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason: Reason = reason
        self.message = MESSAGES[reason]
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class Header:
    kind: str  # what the frames are for, e.g. "up" (child → parent) or "answer"
    sender: str  # the sending node's region code
    recipient: str  # the receiving node's region code
    created: datetime
    types: tuple[str, ...]  # one per frame: what its payload is, e.g. "up", "pull", "ack"


@dataclass(frozen=True)
class Bundle:
    header: Header
    sender_key: bytes
    frames: tuple[tuple[str, bytes], ...]  # (type, sealed envelope), in order


def write_bundle(
    *,
    kind: str,
    sender: str,
    recipient: str,
    frames: Sequence[tuple[str, bytes]],
    keys: NodeKeys,
    created: datetime | None = None,
) -> bytes:
    """The signed bundle of `frames` from `sender` (region, signing with `keys`) to `recipient`."""
    if len(frames) > MAX_FRAMES or any(not envelope for _type, envelope in frames):
        raise ValueError(f"a bundle holds 0 to {MAX_FRAMES} non-empty frames")
    when = datetime.now(UTC) if created is None else created
    if when.tzinfo is None:
        raise ValueError("created must be time-zone aware")
    header = canonical(
        {
            "created": when.isoformat(timespec="milliseconds"),
            "from": sender,
            "kind": kind,
            "to": recipient,
            "types": [frame_type for frame_type, _envelope in frames],
        }
    )
    parts = [_FIXED.pack(MAGIC, FORMAT_VERSION, keys.key_id, len(header)), header]
    parts.append(_COUNT.pack(len(frames)))
    for _type, envelope in frames:
        parts += [_COUNT.pack(len(envelope)), envelope]
    signed = b"".join(parts)
    return signed + keys.sign(signed)


def peek(data: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> Bundle:
    """The bundle's parts from its layout alone: nothing is verified yet."""
    if len(data) > max_size:
        raise BundleRefused("too_large", f"{len(data)} bytes, limit {max_size}")
    if len(data) < 5 or data[:4] != MAGIC:
        raise BundleRefused("malformed", "not a bundle")
    if data[4] != FORMAT_VERSION:
        raise BundleRefused("unsupported_version", f"version {data[4]}")
    if len(data) < _FIXED.size + _COUNT.size + SIGNATURE_SIZE:
        raise BundleRefused("malformed", "truncated")
    _magic, _version, sender_key, header_size = _FIXED.unpack_from(data)
    end = len(data) - SIGNATURE_SIZE
    at = _FIXED.size + header_size
    if header_size > MAX_HEADER or at + _COUNT.size > end:
        raise BundleRefused("malformed", "the header does not fit")
    header = _header(data[_FIXED.size : at])
    (count,) = _COUNT.unpack_from(data, at)
    at += _COUNT.size
    if count != len(header.types) or count > MAX_FRAMES:
        raise BundleRefused("malformed", f"{count} frames, header names {len(header.types)}")
    frames = []
    for frame_type in header.types:
        if at + _COUNT.size > end:
            raise BundleRefused("malformed", "truncated frame")
        (size,) = _COUNT.unpack_from(data, at)
        at += _COUNT.size
        if size == 0 or at + size > end:
            raise BundleRefused("malformed", "a frame's length does not fit")
        frames.append((frame_type, data[at : at + size]))
        at += size
    if at != end:
        raise BundleRefused("malformed", "the lengths do not add up")
    return Bundle(header=header, sender_key=sender_key, frames=tuple(frames))


def _header(raw: bytes) -> Header:
    try:
        value = json.loads(raw)
        types = value["types"]
        if not isinstance(types, list) or not all(isinstance(item, str) for item in types):
            raise TypeError("types")
        texts = [value[key] for key in ("kind", "from", "to", "created")]
        if not all(isinstance(text, str) for text in texts):
            raise TypeError("header fields must be strings")
        created = datetime.fromisoformat(value["created"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, RecursionError) as problem:
        raise BundleRefused("malformed", f"header: {problem!r}") from None
    if created.tzinfo is None:
        raise BundleRefused("malformed", "header: created without a time zone")
    return Header(
        kind=value["kind"],
        sender=value["from"],
        recipient=value["to"],
        created=created,
        types=tuple(types),
    )


def open_bundle(
    data: bytes,
    *,
    recipient: str,
    sender_lookup: Callable[[bytes], PublicKeys | None],
    max_size: int = DEFAULT_MAX_SIZE,
) -> Bundle:
    """Check a bundle: layout, addressed to `recipient`, sender known, signature; then its parts.

    `sender_lookup` answers None for a key that is unknown or revoked.
    """
    bundle = peek(data, max_size=max_size)
    if bundle.header.recipient != recipient:
        raise BundleRefused("not_for_us", f"to {bundle.header.recipient}, not {recipient}")
    keys = sender_lookup(bundle.sender_key)
    if keys is None or keys.key_id != bundle.sender_key:
        raise BundleRefused("unknown_sender", bundle.sender_key.hex())
    if not keys.verify(data[-SIGNATURE_SIZE:], data[:-SIGNATURE_SIZE]):
        raise BundleRefused("bad_signature")
    return bundle
