"""Write hpke.json and envelopes.json in this folder (see README.md here).

    .venv/bin/python -m tests.vectors.regenerate

The keys are derived from fixed labels, so they come out the same every time. The HPKE vectors
are deterministic (fixed ephemeral keys). The envelopes are sealed with fresh randomness (HPKE
ephemeral keys, ECDSA nonces), so their bytes change on every run; the tests open the committed
bytes and never compare a fresh seal with them. Regenerate only when the format changes (and then
raise FORMAT_VERSION), or to add cases.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sync import envelope
from sync.keys import CURVE_ORDER, NodeKeys
from tests.vectors import hpke_reference as ref

HERE = Path(__file__).parent
CREATED = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
WARNING = "TEST-ONLY private keys, published on purpose. Never use them for anything real."

# RFC 9180 Appendix A.3.1, DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode, as
# published (sequence number 0 of the encryptions). Copied, not computed: the test proves that
# the reference implementation reproduces every value.
RFC_9180_A31: dict[str, Any] = {
    "name": "rfc9180-a.3.1",
    "source": "RFC 9180 Appendix A.3.1 (base mode), values as published",
    "mode": 0,
    "kem_id": 16,
    "kdf_id": 1,
    "aead_id": 1,
    "info": "4f6465206f6e2061204772656369616e2055726e",
    "ikmE": "4270e54ffd08d79d5928020af4686d8f6b7d35dbe470265f1f5aa22816ce860e",
    "skEm": "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb",
    "pkEm": "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4"
    "b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4",
    "ikmR": "668b37171f1072f3cf12ea8a236a45df23fc13b82af3609ad1e354f6ef817550",
    "skRm": "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2",
    "pkRm": "04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f706a826a779b4cf969b"
    "8a0e539c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0",
    "enc": "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4"
    "b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4",
    "shared_secret": "c0d26aeab536609a572b07695d933b589dcf363ff9d93c93adea537aeabb8cb8",
    "key_schedule_context": "00b88d4e6d91759e65e87c470e8b9141113e9ad5f0c8ceefc1e088c82e6980500"
    "798e486f9c9c09c9b5c753ac72d6005de254c607d1b534ed11d493ae1c1d9ac85",
    "secret": "2eb7b6bf138f6b5aff857414a058a3f1750054a9ba1f72c2cf0684a6f20b10e1",
    "key": "868c066ef58aae6dc589b6cfdd18f97e",
    "base_nonce": "4e0bc5018beba4bf004cca59",
    "exporter_secret": "14ad94af484a7ad3ef40e9f3be99ecc6fa9036df9d4920548424df127ee0d99f",
    "aad": "436f756e742d30",
    "pt": "4265617574792069732074727574682c20747275746820626561757479",
    "ct": "5ad590bb8baa577f8619db35a36311226a896e7342a6d836d8b7bcd2f20b6c7f9076ac232e3ab2523f3"
    "9513434",
}


def scalar(label: str) -> bytes:
    """A fixed private scalar for a test key, from its label."""
    digest = int.from_bytes(
        hashlib.sha256(b"yichuang test vector " + label.encode()).digest(), "big"
    )
    return (digest % (CURVE_ORDER - 1) + 1).to_bytes(32, "big")


def test_keys(name: str) -> NodeKeys:
    return NodeKeys(
        ref.private_key(scalar(f"{name} signing")), ref.private_key(scalar(f"{name} receiving"))
    )


KEY_NAMES = ("sender", "recipient_a", "recipient_a_old", "recipient_b", "outsider", "stranger")
DIRECTORY = ("sender", "recipient_a", "recipient_a_old", "recipient_b", "outsider")


def _pkcs8(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return base64.b64encode(der).decode()


def _key_entry(name: str, keys: NodeKeys) -> dict[str, Any]:
    return {
        "signing_d": scalar(f"{name} signing").hex(),
        "receiving_d": scalar(f"{name} receiving").hex(),
        "signing_pkcs8": _pkcs8(keys.signing),
        "receiving_pkcs8": _pkcs8(keys.receiving),
        "public": keys.public().to_json(),
        "key_id_hex": keys.key_id.hex(),
    }


def hpke_vectors(keys: dict[str, NodeKeys]) -> dict[str, Any]:
    cases: list[dict[str, Any]] = [RFC_9180_A31]
    for number, recipient in enumerate(("recipient_a", "recipient_b"), start=1):
        ikm_e = hashlib.sha256(f"yichuang hpke vector {number} ephemeral".encode()).digest()
        sk_e = ref.derive_key_pair(ikm_e)
        sk_r = scalar(f"{recipient} receiving")
        pk_r = ref.point(ref.private_key(sk_r))
        info = envelope.hpke_info(envelope.SUITE_P256, keys["sender"].key_id)
        pt = hashlib.sha256(f"yichuang content key {number}".encode()).digest()
        out = ref.seal_base(aead_id=2, pk_r=pk_r, sk_e=sk_e, info=info, aad=b"", pt=pt)
        cases.append(
            {
                "name": f"envelope-content-key-{number}",
                "source": "tests/vectors/hpke_reference.py; cryptography's HPKE opens it",
                "mode": 0,
                "kem_id": 16,
                "kdf_id": 1,
                "aead_id": 2,
                "info": info.hex(),
                "ikmE": ikm_e.hex(),
                "skEm": sk_e.hex(),
                "pkEm": ref.point(ref.private_key(sk_e)).hex(),
                "skRm": sk_r.hex(),
                "pkRm": pk_r.hex(),
                "enc": out.enc.hex(),
                "shared_secret": out.shared_secret.hex(),
                "key_schedule_context": out.key_schedule_context.hex(),
                "secret": out.secret.hex(),
                "key": out.key.hex(),
                "base_nonce": out.base_nonce.hex(),
                "exporter_secret": out.exporter_secret.hex(),
                "aad": "",
                "pt": pt.hex(),
                "ct": out.ct.hex(),
            }
        )
    return {
        "description": "HPKE base mode, single shot (RFC 9180 §6.1), sequence number 0. "
        "kem 16 = DHKEM(P-256, HKDF-SHA256), kdf 1 = HKDF-SHA256, aead 1 = AES-128-GCM, "
        "aead 2 = AES-256-GCM (the envelope's suite 1). Hex throughout.",
        "cases": cases,
    }


def _flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    return data[:offset] + bytes([data[offset] ^ mask]) + data[offset + 1 :]


def _resign(data: bytes, sender: NodeKeys) -> bytes:
    return data[:-64] + sender.sign(data[:-64])


def envelope_vectors(keys: dict[str, NodeKeys]) -> dict[str, Any]:
    sender = keys["sender"]
    public = {name: k.public() for name, k in keys.items()}
    cases: list[dict[str, Any]] = []
    by_id = {k.key_id: name for name, k in keys.items()}

    def sealed(body: bytes, to: list[str], *, compression: int, kind: int, key_seed: str) -> bytes:
        return envelope._seal_body(
            body,
            compression=compression,
            sender=sender,
            recipients=[public[name] for name in to],
            kind=kind,
            created=CREATED,
            content_key=hashlib.sha256(key_seed.encode()).digest(),
            nonce=hashlib.sha256(b"nonce " + key_seed.encode()).digest()[:12],
        )

    def valid(
        name: str, data: bytes, open_as: list[str], payload: bytes, seed: str, **extra: Any
    ) -> None:
        expect = {
            "payload_hex": payload.hex(),
            "kind": data[6],
            "created_ms": int(CREATED.timestamp() * 1000),
            "sender": "sender",
            "recipients": [by_id[data[at : at + 16]] for at in range(33, 33 + 129 * data[32], 129)],
            "envelope_id": envelope.envelope_id(data),
            "content_key": hashlib.sha256(seed.encode()).digest().hex(),
        }
        cases.append(
            {"name": name, "envelope": data.hex(), "open_as": open_as, **extra, "expect": expect}
        )

    def refused(
        name: str, data: bytes, reason: str, open_as: str = "recipient_a", **limits: int
    ) -> None:
        case = {"name": name, "envelope": data.hex(), "open_as": [open_as], **limits}
        cases.append({**case, "expect": {"reason": reason}})

    text = json.dumps(
        {"case": "C2026-000123", "kind": "accept", "note": "受理，材料齐全", "seq": 1},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    deflated = zlib.compress(text, envelope.COMPRESSION_LEVEL)
    one = sealed(deflated, ["recipient_a"], compression=1, kind=1, key_seed="one")
    valid("one-recipient", one, ["recipient_a"], text, "one")
    two = sealed(deflated, ["recipient_a", "recipient_b"], compression=1, kind=2, key_seed="two")
    valid("two-recipients-opened-by-a", two, ["recipient_a"], text, "two")
    valid("two-recipients-opened-by-b", two, ["recipient_b"], text, "two")
    noise = b"".join(hashlib.sha256(bytes([i])).digest() for i in range(8))
    stored = sealed(noise, ["recipient_a"], compression=0, kind=3, key_seed="stored")
    valid("stored-not-compressed", stored, ["recipient_a"], noise, "stored")
    empty = sealed(b"", ["recipient_a"], compression=0, kind=0, key_seed="empty")
    valid("empty-payload", empty, ["recipient_a"], b"", "empty")
    old = sealed(deflated, ["recipient_a_old"], compression=1, kind=1, key_seed="old")
    valid("rotated-old-key-still-opens", old, ["recipient_a", "recipient_a_old"], text, "old")
    s = int.from_bytes(one[-32:], "big")
    twin = one[:-32] + (CURVE_ORDER - s).to_bytes(32, "big")
    valid("high-s-signature-twin-same-id", twin, ["recipient_a"], text, "one")

    entry = 33  # the first recipient entry: key id (16), enc (65), sealed content key (48)
    nonce_at = 33 + 129
    ct_at = nonce_at + 12 + 4
    refused("malformed-magic", _flip(one, 0), "malformed")
    refused("unsupported-version", one[:4] + b"\x02" + one[5:], "unsupported_version")
    refused("unsupported-suite-sm", one[:5] + b"\x02" + one[6:], "unsupported_suite")
    refused("malformed-truncated", one[:-1], "malformed")
    refused("malformed-compression-id", one[:7] + b"\x07" + one[8:], "malformed")
    refused("malformed-no-recipients", one[:32] + b"\x00" + one[33:], "malformed")
    refused("malformed-length-field", _flip(one, nonce_at + 12 + 3), "malformed")
    refused("bad-signature-kind", _flip(one, 6), "bad_signature")
    refused("bad-signature-created", _flip(one, 15), "bad_signature")
    refused("bad-signature-recipient-key-id", _flip(one, entry), "bad_signature")
    refused("bad-signature-enc", _flip(one, entry + 16 + 40), "bad_signature")
    refused("bad-signature-sealed-key", _flip(one, entry + 81 + 5), "bad_signature")
    refused("bad-signature-nonce", _flip(one, nonce_at), "bad_signature")
    refused("bad-signature-ciphertext", _flip(one, ct_at + 2), "bad_signature")
    refused("bad-signature-signature", _flip(one, len(one) - 1), "bad_signature")
    refused("unknown-sender-id", _flip(one, 16), "unknown_sender")
    stranger = envelope.seal(text, sender=keys["stranger"], recipients=[public["recipient_a"]])
    refused("unknown-sender-stranger", stranger, "unknown_sender")
    refused("not-a-recipient", one, "not_a_recipient", open_as="outsider")
    refused("not-a-recipient-old-key-gone", old, "not_a_recipient")
    refused(
        "decrypt-failed-sealed-key-resigned",
        _resign(_flip(one, entry + 81 + 5), sender),
        "decrypt_failed",
    )
    refused(
        "decrypt-failed-enc-resigned",
        _resign(_flip(one, entry + 16 + 64), sender),
        "decrypt_failed",
    )
    refused(
        "decrypt-failed-nonce-resigned", _resign(_flip(one, nonce_at), sender), "decrypt_failed"
    )
    refused(
        "decrypt-failed-ciphertext-resigned",
        _resign(_flip(one, ct_at + 2), sender),
        "decrypt_failed",
    )
    refused("decrypt-failed-kind-resigned", _resign(_flip(one, 6), sender), "decrypt_failed")
    refused("too-large-envelope", one, "too_large", max_size=len(one) - 1)
    bomb = sealed(
        zlib.compress(bytes(1 << 20), 9), ["recipient_a"], compression=1, kind=1, key_seed="bomb"
    )
    refused("too-large-decompression-bomb", bomb, "too_large", max_payload=65_536)
    junk = sealed(b"\x78\x9c not deflate", ["recipient_a"], compression=1, kind=1, key_seed="junk")
    refused("malformed-payload-does-not-inflate", junk, "malformed")
    return {
        "warning": WARNING,
        "description": "Whole envelopes (docs/envelope.md). Open each with the keys named in "
        "open_as (every generation a node holds), a sender directory of the keys named in "
        "directory, and max_size / max_payload when given; expect the payload or the reason.",
        "format_version": envelope.FORMAT_VERSION,
        "suite": envelope.SUITE_P256,
        "keys": {name: _key_entry(name, keys[name]) for name in KEY_NAMES},
        "directory": list(DIRECTORY),
        "cases": cases,
    }


def main() -> None:
    keys = {name: test_keys(name) for name in KEY_NAMES}
    for name, content in (
        ("hpke.json", hpke_vectors(keys)),
        ("envelopes.json", envelope_vectors(keys)),
    ):
        text = json.dumps(content, ensure_ascii=False, indent=1) + "\n"
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote {HERE / name}: {len(content['cases'])} cases")


if __name__ == "__main__":
    main()
