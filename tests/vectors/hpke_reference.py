"""A small reference implementation of RFC 9180 HPKE base mode, for test vectors only.

DHKEM(P-256, HKDF-SHA256) (kem_id 0x0010), HKDF-SHA256 (kdf_id 0x0001) and AES-GCM (aead_id
0x0001 for AES-128-GCM, 0x0002 for AES-256-GCM), single-shot seal and open (§6.1), with the
ephemeral key given so that the output is deterministic. Built from `cryptography`'s primitives
(HMAC, HKDF-Expand, ECDH, AES-GCM) step by step as the RFC writes them, so the browser's WebCrypto
code can be compared with every intermediate value. Never used by `sync/`: it exists to prove
that what `cryptography.hazmat.primitives.hpke` does is what the RFC (and therefore the browser)
does.

Sections: §4 (LabeledExtract, LabeledExpand), §4.1 (DHKEM Encap/Decap, ExtractAndExpand),
§5.1 (KeySchedule), §5.2 (ComputeNonce: sequence 0 is the base nonce), §6.1 (single shot),
§7.1 (P-256: Nsecret 32, Nenc 65, Npk 65, Nsk 32), §7.1.3 (DeriveKeyPair).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

KEM_P256_HKDF_SHA256 = 0x0010
KDF_HKDF_SHA256 = 0x0001
AEAD_KEY_SIZES = {0x0001: 16, 0x0002: 32}  # AES-128-GCM, AES-256-GCM
NONCE_SIZE = 12
HASH_SIZE = 32
MODE_BASE = 0x00
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def i2osp(value: int, width: int) -> bytes:
    return value.to_bytes(width, "big")


KEM_SUITE = b"KEM" + i2osp(KEM_P256_HKDF_SHA256, 2)


def hpke_suite(aead_id: int) -> bytes:
    return b"HPKE" + i2osp(KEM_P256_HKDF_SHA256, 2) + i2osp(KDF_HKDF_SHA256, 2) + i2osp(aead_id, 2)


def extract(salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869 §2.2): an empty salt means HashLen zero bytes."""
    mac = hmac.HMAC(salt or bytes(HASH_SIZE), hashes.SHA256())
    mac.update(ikm)
    return mac.finalize()


def expand(prk: bytes, info: bytes, length: int) -> bytes:
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return extract(salt, b"HPKE-v1" + suite + label + ikm)


def labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return expand(prk, i2osp(length, 2) + b"HPKE-v1" + suite + label + info, length)


def point(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def private_key(scalar: bytes) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


def derive_key_pair(ikm: bytes) -> bytes:
    """DeriveKeyPair (§7.1.3) for P-256: the private scalar, 32 bytes."""
    dkp_prk = labeled_extract(KEM_SUITE, b"", b"dkp_prk", ikm)
    for counter in range(256):
        candidate = labeled_expand(KEM_SUITE, dkp_prk, b"candidate", i2osp(counter, 1), 32)
        scalar = int.from_bytes(candidate, "big")  # bitmask 0xFF for P-256: nothing cleared
        if 0 < scalar < P256_ORDER:
            return candidate
    raise ValueError("DeriveKeyPairError")


def extract_and_expand(dh: bytes, kem_context: bytes) -> bytes:
    eae_prk = labeled_extract(KEM_SUITE, b"", b"eae_prk", dh)
    return labeled_expand(KEM_SUITE, eae_prk, b"shared_secret", kem_context, HASH_SIZE)


@dataclass(frozen=True)
class BaseSeal:
    """Every value a base-mode single-shot seal computes, in the RFC's names."""

    enc: bytes
    shared_secret: bytes
    key_schedule_context: bytes
    secret: bytes
    key: bytes
    base_nonce: bytes
    exporter_secret: bytes
    ct: bytes


def key_schedule(
    aead_id: int, shared_secret: bytes, info: bytes
) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """KeySchedule (§5.1) in base mode: context, secret, key, base_nonce, exporter_secret."""
    suite = hpke_suite(aead_id)
    psk_id_hash = labeled_extract(suite, b"", b"psk_id_hash", b"")
    info_hash = labeled_extract(suite, b"", b"info_hash", info)
    context = i2osp(MODE_BASE, 1) + psk_id_hash + info_hash
    secret = labeled_extract(suite, shared_secret, b"secret", b"")
    key = labeled_expand(suite, secret, b"key", context, AEAD_KEY_SIZES[aead_id])
    base_nonce = labeled_expand(suite, secret, b"base_nonce", context, NONCE_SIZE)
    exporter = labeled_expand(suite, secret, b"exp", context, HASH_SIZE)
    return context, secret, key, base_nonce, exporter


def seal_base(
    *, aead_id: int, pk_r: bytes, sk_e: bytes, info: bytes, aad: bytes, pt: bytes
) -> BaseSeal:
    """Encap (§4.1) with the given ephemeral key, then the key schedule and one seal (§6.1)."""
    ephemeral = private_key(sk_e)
    recipient = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pk_r)
    dh = ephemeral.exchange(ec.ECDH(), recipient)  # the x-coordinate, Ndh = 32
    enc = point(ephemeral)
    shared_secret = extract_and_expand(dh, enc + pk_r)
    context, secret, key, base_nonce, exporter = key_schedule(aead_id, shared_secret, info)
    ct = AESGCM(key).encrypt(base_nonce, pt, aad)  # sequence 0: nonce = base_nonce (§5.2)
    return BaseSeal(enc, shared_secret, context, secret, key, base_nonce, exporter, ct)


def open_base(
    *, aead_id: int, sk_r: bytes, enc: bytes, info: bytes, aad: bytes, ct: bytes
) -> bytes:
    """Decap (§4.1), the key schedule and one open (§6.1)."""
    recipient = private_key(sk_r)
    ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), enc)
    dh = recipient.exchange(ec.ECDH(), ephemeral)
    shared_secret = extract_and_expand(dh, enc + point(recipient))
    _, _, key, base_nonce, _ = key_schedule(aead_id, shared_secret, info)
    return AESGCM(key).decrypt(base_nonce, ct, aad)
