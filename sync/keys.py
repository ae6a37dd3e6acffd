"""A node's key material: one P-256 key pair for signing (ECDSA) and one for receiving (HPKE).

Every server and every enrolled device has both (DESIGN.md §6). P-256 because WebCrypto on the
phones we serve has it and has no Ed25519/X25519 (DESIGN.md §10).

Invariants:
- Public keys travel as SEC1 uncompressed points (65 bytes, `04 || x || y`), the form WebCrypto
  exports with `exportKey("raw", …)`. A point that is not on P-256 is refused with ValueError.
- A key id is the first 16 bytes of SHA-256(b"yc-key-v1" || signing || receiving): it names both
  public keys at once, so a new generation (rotation) always has a new id.
- Signatures are IEEE P1363 `r || s` (32 + 32 bytes, big-endian), as WebCrypto's ECDSA writes
  them, not DER. `sign` writes low-S signatures; `verify` accepts either S.
- On disk, private keys are PKCS#8 PEM, unencrypted, mode 0600, created with O_EXCL so that a
  key is never overwritten. Layout with rotation:

      <directory>/gen-0001/signing.pem
      <directory>/gen-0001/receiving.pem
      <directory>/gen-0002/…            (the newest generation is the current one)

  `save` adds a generation; `load` reads the newest; `load_all` reads them all, newest first,
  so envelopes sealed to an older receiving key still open. To retire a generation, delete its
  folder once nothing sealed to it can still arrive.

Sources: SEC 1 v2 §2.3.3 (point encoding), FIPS 186-5 (ECDSA), IEEE 1363 (signature format).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

KEY_ID_LABEL = b"yc-key-v1"
KEY_ID_SIZE = 16
POINT_SIZE = 65
SIGNATURE_SIZE = 64
CURVE_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SIGNING_FILE = "signing.pem"
RECEIVING_FILE = "receiving.pem"
_GENERATION = re.compile(r"gen-(\d{4,})")


def key_id_of(signing: bytes, receiving: bytes) -> bytes:
    """The 16-byte id that names a pair of public keys."""
    return hashlib.sha256(KEY_ID_LABEL + signing + receiving).digest()[:KEY_ID_SIZE]


def point_of(key: ec.EllipticCurvePublicKey) -> bytes:
    """A public key as a 65-byte SEC1 uncompressed point."""
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def public_key_from_point(point: bytes, what: str = "public key") -> ec.EllipticCurvePublicKey:
    """Parse a 65-byte uncompressed P-256 point; ValueError if it is not one on the curve."""
    if len(point) != POINT_SIZE or point[0] != 0x04:
        raise ValueError(f"{what}: expected a 65-byte uncompressed P-256 point (04 || x || y)")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise ValueError(f"{what}: the point is not on the P-256 curve") from None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: object, what: str) -> bytes:
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError(f"{what}: expected a base64url string")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"{what}: not valid base64url") from None


@dataclass(frozen=True)
class PublicKeys:
    """A node's two public keys and their id: what the key directory and enrolment carry."""

    signing: bytes
    receiving: bytes
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        public_key_from_point(self.signing, "signing key")
        public_key_from_point(self.receiving, "receiving key")
        if self.signing == self.receiving:
            raise ValueError("the signing and receiving keys must be different keys")
        object.__setattr__(self, "key_id", key_id_of(self.signing, self.receiving))

    def to_json(self) -> dict[str, str]:
        """A JSON-ready dict with base64url (unpadded) strings."""
        return {
            "key_id": _b64url(self.key_id),
            "signing": _b64url(self.signing),
            "receiving": _b64url(self.receiving),
        }

    @classmethod
    def from_json(cls, data: object) -> PublicKeys:
        """Parse `to_json` output; ValueError names what is wrong (a stated key_id must match)."""
        if not isinstance(data, dict):
            raise ValueError("public keys: expected an object with signing and receiving")
        keys = cls(
            signing=_unb64url(data.get("signing"), "signing key"),
            receiving=_unb64url(data.get("receiving"), "receiving key"),
        )
        if "key_id" in data and _unb64url(data["key_id"], "key_id") != keys.key_id:
            raise ValueError("key_id does not match the keys it names")
        return keys

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True if `signature` (P1363 r || s) is this node's ECDSA P-256 SHA-256 signature."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < CURVE_ORDER and 0 < s < CURVE_ORDER):
            return False
        key = public_key_from_point(self.signing, "signing key")
        try:
            key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, eq=False)
class NodeKeys:
    """A node's private keys (one generation)."""

    signing: ec.EllipticCurvePrivateKey
    receiving: ec.EllipticCurvePrivateKey

    def __post_init__(self) -> None:
        for name, key in (("signing", self.signing), ("receiving", self.receiving)):
            if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
                raise ValueError(f"{name} key: expected a P-256 private key")

    @classmethod
    def generate(cls) -> NodeKeys:
        """Two fresh P-256 key pairs."""
        return cls(ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1()))

    def public(self) -> PublicKeys:
        """The public half, with its key id."""
        return PublicKeys(
            point_of(self.signing.public_key()), point_of(self.receiving.public_key())
        )

    @property
    def key_id(self) -> bytes:
        """The key id of the public half."""
        return self.public().key_id

    def sign(self, message: bytes) -> bytes:
        """ECDSA P-256 SHA-256 over `message`, as 64 bytes r || s with low S."""
        r, s = decode_dss_signature(self.signing.sign(message, ec.ECDSA(hashes.SHA256())))
        s = min(s, CURVE_ORDER - s)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def save(self, directory: Path) -> Path:
        """Write these keys as the next (current) generation under `directory`; returns its folder.

        Never overwrites: the generation folder and each file are created exclusively.
        """
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        numbers = [number for number, _ in _generations(directory)]
        folder = directory / f"gen-{max(numbers, default=0) + 1:04d}"
        folder.mkdir(mode=0o700)
        for name, key in ((SIGNING_FILE, self.signing), (RECEIVING_FILE, self.receiving)):
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_exclusive(folder / name, pem)
        return folder

    @classmethod
    def load(cls, directory: Path) -> NodeKeys:
        """The current (newest) generation under `directory`."""
        return cls.load_all(directory)[0]

    @classmethod
    def load_all(cls, directory: Path) -> list[NodeKeys]:
        """Every generation under `directory`, newest first; FileNotFoundError if there is none."""
        found = sorted(_generations(directory), reverse=True)
        if not found:
            raise FileNotFoundError(f"no keys under {directory} (expected gen-0001/ and so on)")
        return [cls._load_generation(folder) for _, folder in found]

    @classmethod
    def _load_generation(cls, folder: Path) -> NodeKeys:
        keys = []
        for name in (SIGNING_FILE, RECEIVING_FILE):
            path = folder / name
            if not path.is_file():
                raise ValueError(f"{folder} is incomplete: {name} is missing")
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{path}: not an elliptic-curve private key")
            keys.append(key)
        return cls(keys[0], keys[1])


def _generations(directory: Path) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        match = _GENERATION.fullmatch(entry.name)
        if match and entry.is_dir():
            found.append((int(match.group(1)), entry))
    return found


def _write_exclusive(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
