"""Identifiers that sort by time: UUID version 7 (RFC 9562 §5.7).

48 bits of Unix time in milliseconds, then 74 random bits (with the version and variant bits
set). Ids made later sort later (within a millisecond they are random), so events and cases
created on different nodes can be merged without coordination and still list in time order.
Python gains `uuid.uuid7` only in 3.14; this is the same layout.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    """A new version-7 UUID; `now_ms` (Unix milliseconds) for tests."""
    millis = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if not 0 <= millis < 1 << 48:
        raise ValueError("timestamp out of range for UUIDv7")
    rand = int.from_bytes(os.urandom(10), "big")  # 80 random bits; 74 are used
    value = (millis << 80) | (rand & ((1 << 80) - 1))
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # variant 10
    return uuid.UUID(int=value)


def uuid7_time_ms(value: uuid.UUID) -> int:
    """The Unix milliseconds a version-7 UUID carries."""
    return value.int >> 80
