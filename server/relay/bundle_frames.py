"""What the bundle flows share (server/relay/bundle.py): the report, the refusal, frame checks.

Every refusal is a `BundleFailed` with a stable reason and a Chinese message, logged as
`bundle refused reason=<code> file=<where it came from>` (docs/sync.md, "Bundles").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sync.bundle import DEFAULT_MAX_SIZE, Bundle, BundleRefused, peek
from sync.envelope import EnvelopeRefused, peek_sender

log = logging.getLogger("yichuang.sync")
UP, ANSWER = "up", "answer"
FRAME_TYPES = {UP: ("announce", "up", "chunk", "pull"), ANSWER: ("ack", "feed", "chunk")}
Progress = Callable[[str], None]


class BundleFailed(Exception):
    """A bundle not exported or not imported: `reason` (stable code), `message` (Chinese)."""

    def __init__(self, reason: str, message: str, detail: str = "") -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass
class BundleReport:
    peer: str = ""  # the other node's region code
    peer_name: str = ""
    envelopes: int = 0  # frames written or applied
    events: int = 0  # events written (export) or received (import)
    stored: int = 0
    repeated: int = 0
    quarantined: int = 0
    replayed: int = 0  # frames imported before, skipped
    acked: int | None = None  # the up sequence the ack confirmed (township import)
    size: int = 0  # bytes of the bundle
    chunks: int = 0  # scan chunks written or stored
    pull: dict[str, Any] | None = None  # the opened pull of an imported up bundle (county)


def quiet(_text: str) -> None:
    return None


def refuse(reason: str, message: str, source: str, detail: str = "") -> BundleFailed:
    log.warning("bundle refused reason=%s file=%s %s", reason, source, detail)
    return BundleFailed(reason, message, detail)


def refused_bundle(problem: BundleRefused, source: str) -> BundleFailed:
    return refuse(problem.reason, problem.message, source, problem.detail)


def check_frames(bundle: Bundle, kind: str, source: str) -> None:
    """Only the frame types of this kind, every envelope signed with the bundle's key (an
    announcement is signed by an older generation, and checked as HTTP checks one)."""
    for index, (frame_type, envelope) in enumerate(bundle.frames, start=1):
        if frame_type not in FRAME_TYPES[kind]:
            raise refuse("malformed", "数据包内容的类型不正确。", source, f"frame {frame_type}")
        try:
            signer = peek_sender(envelope)
        except EnvelopeRefused as problem:
            raise refuse("malformed", problem.message, source, f"frame {index}") from None
        if signer != bundle.sender_key and frame_type != "announce":
            raise refuse("malformed", "数据包里夹带了其他节点的内容。", source, f"frame {index}")


def peek_kind(data: bytes, kind: str, me: str, source: str, role_hint: str) -> Bundle:
    """The layout, the kind and the recipient, before any key is looked up."""
    try:
        bundle = peek(data)
    except BundleRefused as problem:
        raise refused_bundle(problem, source) from None
    if bundle.header.kind != kind:
        raise refuse("wrong_kind", role_hint, source, bundle.header.kind)
    if bundle.header.recipient != me:
        to = bundle.header.recipient
        message = f"这个数据包是发给 {to} 的，本节点是 {me}：请带到 {to} 导入。"
        raise refuse("not_for_us", message, source, f"to {to}")
    return bundle


def fits(data: bytes) -> None:
    if len(data) > DEFAULT_MAX_SIZE:
        limit = DEFAULT_MAX_SIZE // 1024 // 1024
        message = f"待传的事件和扫描件超过一个数据包的上限（{limit} MB），请联网同步。"
        raise BundleFailed("too_large", message, f"{len(data)} bytes")


def count_released(report: BundleReport, released: int) -> None:
    """Events held for a scan (counted as quarantined) that its last chunk let through."""
    report.stored += released
    report.quarantined = max(0, report.quarantined - released)
