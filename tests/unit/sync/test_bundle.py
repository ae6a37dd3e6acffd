"""The bundle container: round trip, and every way a file can be wrong is refused by reason."""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from sync.bundle import MAGIC, BundleRefused, open_bundle, peek, write_bundle
from sync.keys import NodeKeys, PublicKeys

TOWNSHIP, COUNTY = "990102101000", "990102"
SENDER = NodeKeys.generate()
PUBLIC = SENDER.public()
FRAMES = [("up", b"YCEN first envelope"), ("up", b"YCEN second"), ("pull", b"YCEN pull")]


def bundle(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "kind": "up",
        "sender": TOWNSHIP,
        "recipient": COUNTY,
        "frames": FRAMES,
        "keys": SENDER,
        "created": datetime(2026, 12, 2, 9, 30, tzinfo=UTC),
    }
    fields.update(changes)
    return write_bundle(**fields)  # type: ignore[arg-type]


def lookup(keys: PublicKeys | None = PUBLIC) -> Callable[[bytes], PublicKeys | None]:
    return lambda key_id: keys if keys is not None and key_id == keys.key_id else None


def reason(data: bytes, recipient: str = COUNTY, keys: PublicKeys | None = PUBLIC) -> str:
    with pytest.raises(BundleRefused) as refused:
        open_bundle(data, recipient=recipient, sender_lookup=lookup(keys))
    assert refused.value.message  # Chinese, for the operator
    return refused.value.reason


def test_a_bundle_round_trips() -> None:
    result = open_bundle(bundle(), recipient=COUNTY, sender_lookup=lookup())
    assert result.frames == tuple(FRAMES)
    assert result.sender_key == SENDER.key_id
    header = result.header
    assert (header.kind, header.sender, header.recipient) == ("up", TOWNSHIP, COUNTY)
    assert header.created == datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    assert peek(bundle(frames=[])).frames == ()


def test_every_changed_byte_is_refused() -> None:
    data = bundle()
    for at in range(len(data)):
        changed = bytearray(data)
        changed[at] ^= 0x40
        assert reason(bytes(changed)) in {
            "malformed",
            "unsupported_version",
            "unknown_sender",
            "bad_signature",
            "not_for_us",
        }


def test_refusals_name_their_reason() -> None:
    data = bundle()
    assert reason(data, recipient="990103") == "not_for_us"
    assert reason(data, keys=None) == "unknown_sender"
    assert reason(data, keys=NodeKeys.generate().public()) == "unknown_sender"
    assert reason(data[:-1]) == "malformed"
    assert reason(data + b"\0") == "malformed"
    assert reason(b"PK\3\4 a zip file") == "malformed"
    assert reason(MAGIC + b"\2" + data[5:]) == "unsupported_version"
    forged = bundle(keys=NodeKeys.generate())
    assert reason(forged) == "unknown_sender"
    # Someone else's key id written into the header does not borrow its trust.
    borrowed = forged[:5] + SENDER.key_id + forged[21:]
    assert reason(borrowed) == "bad_signature"
    with pytest.raises(BundleRefused) as big:
        peek(data, max_size=len(data) - 1)
    assert big.value.reason == "too_large"


def test_a_header_that_lies_about_its_frames_is_malformed() -> None:
    data = bundle()
    (header_size,) = struct.unpack_from(">I", data, 21)
    count_at = 25 + header_size
    lying = data[:count_at] + struct.pack(">I", 2) + data[count_at + 4 :]
    assert reason(lying) == "malformed"
    with pytest.raises(ValueError, match="non-empty"):
        bundle(frames=[("up", b"")])


def test_a_header_nested_too_deep_is_malformed_not_a_crash() -> None:
    """The header is read before the signature is checked: JSON nested past the parser's
    recursion limit is a refusal like any other damage, not an exception of its own."""
    header = b"[" * 100_000 + b"]" * 100_000
    data = struct.pack(">4sB16sI", MAGIC, 1, SENDER.key_id, len(header)) + header
    data += struct.pack(">I", 0) + b"s" * 64
    assert reason(data) == "malformed"
