"""The node's VAPID key (RFC 8292): a P-256 key that signs every Web Push request.

Made once, at `init` or on first start, into `secrets/vapid.pem` (PKCS#8 PEM, 0600, created
with O_EXCL so two processes starting at once never both write one), like the node's other
secrets. Browsers subscribe with its public key (`applicationServerKey`, the uncompressed
point in base64url); a new key would orphan every subscription, so it is never replaced.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

VAPID_FILE = "vapid.pem"


def vapid_path(data_dir: Path) -> Path:
    return data_dir / "secrets" / VAPID_FILE


def ensure_vapid_key(data_dir: Path) -> ec.EllipticCurvePrivateKey:
    """Load the node's VAPID key, making it first if there is none."""
    path = vapid_path(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago: use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or loaded.curve.name != "secp256r1":
        raise ValueError(f"{path} is not a P-256 private key")
    return loaded


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The applicationServerKey a browser subscribes with: X9.62 uncompressed, base64url."""
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
