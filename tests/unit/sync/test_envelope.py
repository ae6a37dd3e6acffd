from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from sync.envelope import (
    COMPRESSION_DEFLATE,
    COMPRESSION_NONE,
    MESSAGES,
    EnvelopeRefused,
    _seal_body,
    directory_lookup,
    envelope_id,
    hpke_info,
    open_envelope,
    peek_sender,
    seal,
)
from sync.keys import CURVE_ORDER, NodeKeys, PublicKeys
from tests.vectors import hpke_reference as ref

VECTORS = Path(__file__).parents[2] / "vectors"
HPKE = Suite(KEM.P256, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
CREATED = datetime(2026, 11, 22, 8, 30, 15, 123000, tzinfo=UTC)
PAYLOAD = json.dumps(
    [{"id": i, "case": "C2026-000123", "note": "受理，材料齐全"} for i in range(40)],
    ensure_ascii=False,
).encode()

# Offsets in an envelope with one recipient (docs/envelope.md).
ENTRY, NONCE, LENGTH, BODY = 33, 33 + 129, 33 + 129 + 12, 33 + 129 + 16


@pytest.fixture(scope="module")
def alice() -> NodeKeys:
    return NodeKeys.generate()


@pytest.fixture(scope="module")
def bob() -> NodeKeys:
    return NodeKeys.generate()


@pytest.fixture(scope="module")
def carol() -> NodeKeys:
    return NodeKeys.generate()


def refusal(data: bytes, me: NodeKeys | list[NodeKeys], sender: NodeKeys, **limits: int) -> str:
    with pytest.raises(EnvelopeRefused) as caught:
        open_envelope(data, me=me, sender_lookup=directory_lookup([sender.public()]), **limits)
    assert caught.value.message == MESSAGES[caught.value.reason]
    return caught.value.reason


def flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    return data[:offset] + bytes([data[offset] ^ mask]) + data[offset + 1 :]


def resign(data: bytes, sender: NodeKeys) -> bytes:
    return data[:-64] + sender.sign(data[:-64])


# --- sealing and opening ---------------------------------------------------------------------


def test_round_trip(alice: NodeKeys, bob: NodeKeys) -> None:
    data = seal(PAYLOAD, sender=alice, recipients=[bob.public()], kind=7, created=CREATED)
    opened = open_envelope(data, me=bob, sender_lookup=directory_lookup([alice.public()]))
    assert opened.payload == PAYLOAD
    assert opened.sender == alice.key_id
    assert opened.kind == 7
    assert opened.created == CREATED
    assert opened.recipients == (bob.key_id,)
    assert opened.envelope_id == hashlib.sha256(data[:-64]).hexdigest() == envelope_id(data)
    assert data[:4] == b"YCEN" and data[4] == 1 and data[5] == 1
    assert data[7] == COMPRESSION_DEFLATE
    assert peek_sender(data) == alice.key_id
    assert len(data) < len(PAYLOAD)  # compressed


def test_every_recipient_can_open_and_an_outsider_cannot(
    alice: NodeKeys, bob: NodeKeys, carol: NodeKeys
) -> None:
    data = seal(PAYLOAD, sender=alice, recipients=[bob.public(), carol.public()])
    lookup = directory_lookup([alice.public()])
    for me in (bob, carol):
        assert open_envelope(data, me=me, sender_lookup=lookup).payload == PAYLOAD
    assert refusal(data, NodeKeys.generate(), alice) == "not_a_recipient"
    assert refusal(data, alice, alice) == "not_a_recipient"  # the sender is not a recipient


def test_an_old_generation_still_opens_what_was_sealed_to_it(alice: NodeKeys) -> None:
    old, new = NodeKeys.generate(), NodeKeys.generate()
    data = seal(b"before rotation", sender=alice, recipients=[old.public()])
    lookup = directory_lookup([alice.public()])
    assert open_envelope(data, me=[new, old], sender_lookup=lookup).payload == b"before rotation"
    assert refusal(data, new, alice) == "not_a_recipient"


def test_unknown_and_revoked_senders_are_refused(alice: NodeKeys, bob: NodeKeys) -> None:
    data = seal(b"x", sender=alice, recipients=[bob.public()])
    assert refusal(data, bob, NodeKeys.generate()) == "unknown_sender"
    revoked = directory_lookup([alice.public()], revoked={alice.key_id})
    with pytest.raises(EnvelopeRefused, match="unknown_sender"):
        open_envelope(data, me=bob, sender_lookup=revoked)
    # a lookup that answers with some other node's keys is not trusted either
    with pytest.raises(EnvelopeRefused, match="unknown_sender"):
        open_envelope(data, me=bob, sender_lookup=lambda key_id: bob.public())


def test_every_tampered_byte_is_refused(alice: NodeKeys, bob: NodeKeys) -> None:
    data = seal(PAYLOAD, sender=alice, recipients=[bob.public()], kind=1)
    expected = {0: "malformed", 4: "unsupported_version", 5: "unsupported_suite"}
    for offset in range(len(data)):
        for mask in (0x01, 0x80):
            reason = refusal(flip(data, offset, mask), bob, alice)
            if offset in expected:
                assert reason == expected[offset], offset
            elif offset in (1, 2, 3, 8, 9, 32) or LENGTH <= offset < BODY:
                # the magic, a creation time past 9999, the count, the length
                assert reason == "malformed", offset
            elif offset == 7:  # compression 1 ^ 1 = 0 is a valid id but signed: bad signature
                assert reason == ("bad_signature" if mask == 0x01 else "malformed")
            elif 16 <= offset < 32:
                assert reason == "unknown_sender", offset
            else:  # kind, created, recipient entry, nonce, ciphertext, signature
                assert reason == "bad_signature", offset


def test_a_validly_signed_but_broken_envelope_does_not_decrypt(
    alice: NodeKeys, bob: NodeKeys
) -> None:
    data = seal(PAYLOAD, sender=alice, recipients=[bob.public()], kind=1)
    for offset in (ENTRY + 16, ENTRY + 16 + 64, ENTRY + 81, NONCE, BODY, len(data) - 65, 6, 15):
        assert refusal(resign(flip(data, offset), alice), bob, alice) == "decrypt_failed"


def test_another_sender_cannot_re_sign_someone_elses_envelope(
    alice: NodeKeys, bob: NodeKeys, carol: NodeKeys
) -> None:
    # Carol takes Alice's envelope to Bob, puts her own key id in and signs it: the sender key id
    # is bound into HPKE's info and the payload's associated data, so nothing decrypts.
    data = seal(PAYLOAD, sender=alice, recipients=[bob.public()])
    forged = resign(data[:16] + carol.key_id + data[32:], carol)
    assert refusal(forged, bob, carol) == "decrypt_failed"


def test_the_high_s_twin_of_a_signature_has_the_same_id(alice: NodeKeys, bob: NodeKeys) -> None:
    data = seal(PAYLOAD, sender=alice, recipients=[bob.public()])
    s = int.from_bytes(data[-32:], "big")
    twin = data[:-32] + (CURVE_ORDER - s).to_bytes(32, "big")
    lookup = directory_lookup([alice.public()])
    opened = open_envelope(twin, me=bob, sender_lookup=lookup)
    assert twin != data
    assert opened.envelope_id == open_envelope(data, me=bob, sender_lookup=lookup).envelope_id


def test_size_limits_and_decompression_bombs(alice: NodeKeys, bob: NodeKeys) -> None:
    data = seal(PAYLOAD, sender=alice, recipients=[bob.public()])
    assert refusal(data, bob, alice, max_size=len(data) - 1) == "too_large"
    bomb = seal(bytes(8 << 20), sender=alice, recipients=[bob.public()])
    assert len(bomb) < 20_000  # 8 MiB of zeros deflate to a few KB
    assert refusal(bomb, bob, alice, max_payload=1 << 20) == "too_large"
    stored = seal(os.urandom(4096), sender=alice, recipients=[bob.public()])
    assert stored[7] == COMPRESSION_NONE  # random bytes do not deflate: sent as they are
    assert refusal(stored, bob, alice, max_payload=4095) == "too_large"
    with pytest.raises(ValueError, match="over the"):
        seal(bytes(101), sender=alice, recipients=[bob.public()], max_payload=100)


def test_a_body_that_does_not_inflate_is_malformed(alice: NodeKeys, bob: NodeKeys) -> None:
    for body in (
        b"not deflate at all",
        zlib.compress(b"cut short")[:-3],
        zlib.compress(b"x") + b"!",
    ):
        data = _seal_body(
            body,
            compression=COMPRESSION_DEFLATE,
            sender=alice,
            recipients=[bob.public()],
            kind=0,
            created=CREATED,
            content_key=os.urandom(32),
            nonce=os.urandom(12),
        )
        assert refusal(data, bob, alice) == "malformed"


def test_garbage_is_malformed(alice: NodeKeys, bob: NodeKeys) -> None:
    data = seal(b"x", sender=alice, recipients=[bob.public()])
    for junk in (b"", b"YCEN", b"YCEN\x01\x01", data[:40], data[:-1], data + b"\x00", b"%PDF-1.7"):
        assert refusal(junk, bob, alice) == "malformed"
    with pytest.raises(EnvelopeRefused, match="malformed"):
        peek_sender(b"junk")


def test_seal_refuses_what_it_cannot_send(alice: NodeKeys, bob: NodeKeys) -> None:
    many = [NodeKeys.generate().public() for _ in range(33)]
    bad: list[dict[str, Any]] = [
        {"recipients": []},
        {"recipients": [bob.public(), bob.public()]},
        {"recipients": many},
        {"recipients": [bob.public()], "kind": 256},
        {"recipients": [bob.public()], "created": datetime(2026, 1, 1)},  # noqa: DTZ001 - naive on purpose
        {"recipients": [bob.public()], "created": datetime(1969, 12, 31, tzinfo=UTC)},
    ]
    for arguments in bad:
        with pytest.raises(ValueError):
            seal(b"x", sender=alice, **arguments)
    assert seal(b"x", sender=alice, recipients=many[:32])  # 32 is the most


# --- HPKE: the reference implementation, cryptography and the RFC agree -----------------------


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


def test_reference_hpke_seals_what_cryptography_opens_and_back() -> None:
    for _ in range(8):
        recipient = ec.generate_private_key(ec.SECP256R1())
        ephemeral = os.urandom(32)
        info, pt = os.urandom(35), os.urandom(32)
        out = ref.seal_base(
            aead_id=2, pk_r=ref.point(recipient), sk_e=ephemeral, info=info, aad=b"", pt=pt
        )
        assert HPKE.decrypt(out.enc + out.ct, recipient, info=info) == pt
        sealed = HPKE.encrypt(pt, recipient.public_key(), info=info)
        scalar = recipient.private_numbers().private_value.to_bytes(32, "big")
        opened = ref.open_base(
            aead_id=2, sk_r=scalar, enc=sealed[:65], info=info, aad=b"", ct=sealed[65:]
        )
        assert opened == pt


@pytest.mark.parametrize("case", load("hpke.json")["cases"], ids=lambda case: case["name"])
def test_hpke_vectors(case: dict[str, str]) -> None:
    h = bytes.fromhex
    if "ikmE" in case:
        assert ref.derive_key_pair(h(case["ikmE"])) == h(case["skEm"])
    if "ikmR" in case:
        assert ref.derive_key_pair(h(case["ikmR"])) == h(case["skRm"])
    assert ref.point(ref.private_key(h(case["skEm"]))) == h(case["pkEm"])
    assert ref.point(ref.private_key(h(case["skRm"]))) == h(case["pkRm"])
    out = ref.seal_base(
        aead_id=int(case["aead_id"]),
        pk_r=h(case["pkRm"]),
        sk_e=h(case["skEm"]),
        info=h(case["info"]),
        aad=h(case["aad"]),
        pt=h(case["pt"]),
    )
    for name in ("enc", "shared_secret", "key_schedule_context", "secret", "key", "base_nonce"):
        assert getattr(out, name) == h(case[name]), name
    assert out.exporter_secret == h(case["exporter_secret"])
    assert out.ct == h(case["ct"])
    if int(case["aead_id"]) == 2 and not case["aad"]:  # what sync.envelope uses
        recipient = ref.private_key(h(case["skRm"]))
        assert HPKE.decrypt(h(case["enc"] + case["ct"]), recipient, info=h(case["info"])) == h(
            case["pt"]
        )


def test_the_rfc_vector_is_among_them() -> None:
    names = [case["name"] for case in load("hpke.json")["cases"]]
    assert "rfc9180-a.3.1" in names


# --- whole-envelope vectors (committed bytes; never re-sealed here) ---------------------------

ENVELOPES = load("envelopes.json")


def vector_keys(name: str) -> NodeKeys:
    entry = ENVELOPES["keys"][name]
    keys = NodeKeys(
        ref.private_key(bytes.fromhex(entry["signing_d"])),
        ref.private_key(bytes.fromhex(entry["receiving_d"])),
    )
    assert keys.public() == PublicKeys.from_json(entry["public"])
    assert keys.key_id.hex() == entry["key_id_hex"]
    for field in ("signing", "receiving"):
        der = base64.b64decode(entry[f"{field}_pkcs8"])
        loaded = serialization.load_der_private_key(der, password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        assert loaded.private_numbers() == getattr(keys, field).private_numbers()
    return keys


@pytest.mark.parametrize("case", ENVELOPES["cases"], ids=lambda case: case["name"])
def test_envelope_vectors(case: dict[str, Any]) -> None:
    assert ENVELOPES["warning"].startswith("TEST-ONLY")
    data = bytes.fromhex(case["envelope"])
    me = [vector_keys(name) for name in case["open_as"]]
    lookup = directory_lookup(vector_keys(name).public() for name in ENVELOPES["directory"])
    limits = {key: case[key] for key in ("max_size", "max_payload") if key in case}
    expect = case["expect"]
    if "reason" in expect:
        with pytest.raises(EnvelopeRefused) as caught:
            open_envelope(data, me=me, sender_lookup=lookup, **limits)
        assert caught.value.reason == expect["reason"]
        return
    opened = open_envelope(data, me=me, sender_lookup=lookup, **limits)
    assert opened.payload.hex() == expect["payload_hex"]
    assert opened.kind == expect["kind"]
    assert opened.created == datetime.fromtimestamp(expect["created_ms"] / 1000, UTC)
    assert opened.sender == vector_keys(expect["sender"]).key_id
    assert opened.recipients == tuple(vector_keys(n).key_id for n in expect["recipients"])
    assert opened.envelope_id == expect["envelope_id"]
    # And again by the book: docs/envelope.md read literally, with the reference HPKE.
    assert open_by_the_doc(data, me, vector_keys(expect["sender"]).public()) == (
        bytes.fromhex(expect["content_key"]),
        opened.payload,
    )


def open_by_the_doc(data: bytes, me: list[NodeKeys], sender: PublicKeys) -> tuple[bytes, bytes]:
    """An independent reading of docs/envelope.md: struct offsets, reference HPKE, AES-GCM, zlib."""
    magic, version, suite, _, compression, _, sender_id, count = struct.unpack_from(
        ">4sBBBBQ16sB", data
    )
    assert (magic, version, suite, sender_id) == (b"YCEN", 1, 1, sender.key_id)
    assert sender.verify(data[-64:], data[:-64])
    entries = [data[33 + 129 * i : 33 + 129 * (i + 1)] for i in range(count)]
    nonce_at = 33 + 129 * count
    nonce = data[nonce_at : nonce_at + 12]
    (length,) = struct.unpack_from(">I", data, nonce_at + 12)
    header = data[: nonce_at + 16]
    ciphertext = data[nonce_at + 16 : nonce_at + 16 + length]
    assert nonce_at + 16 + length + 64 == len(data)
    mine = {keys.key_id: keys for keys in me}
    entry = next(entry for entry in entries if entry[:16] in mine)
    receiving = mine[entry[:16]].receiving.private_numbers().private_value.to_bytes(32, "big")
    info = b"yc-envelope" + bytes([1, 1]) + sender.key_id
    assert info == hpke_info(1, sender.key_id)
    content_key = ref.open_base(
        aead_id=2, sk_r=receiving, enc=entry[16:81], info=info, aad=b"", ct=entry[81:]
    )
    body = AESGCM(content_key).decrypt(nonce, ciphertext, header)
    return content_key, zlib.decompress(body) if compression == 1 else body


def test_the_vectors_cover_every_reason() -> None:
    reasons = {case["expect"].get("reason") for case in ENVELOPES["cases"]}
    assert reasons - {None} == set(MESSAGES)
