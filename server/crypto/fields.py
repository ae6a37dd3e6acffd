"""Personal data at rest: AES-256-GCM for a field's value, HMAC-SHA256 beside it for lookup.

Both keys derive from the node's data key (HKDF-SHA256, separate `info`), so one file in the
data directory protects everything. A field's context (table.column) is bound as associated
data, so a ciphertext moved to another column does not open.

Bytes (the chunks of an attachment) have a third derived key: `seal_bytes` gives the raw
nonce followed by the AES-256-GCM ciphertext and tag, with the caller's associated data (an
attachment chunk binds its file's SHA-256 and its index, so chunks cannot be swapped).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
NONCE_BYTES = 12


class FieldDecryptError(Exception):
    """A stored value did not open: wrong key, wrong column or tampered."""


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


class FieldCipher:
    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != 32:
            raise ValueError("the data key must be 32 bytes")
        self._aead = AESGCM(_derive(data_key, b"yichuang field encryption v1"))
        self._mac_key = _derive(data_key, b"yichuang blind index v1")
        self._bytes_aead = AESGCM(_derive(data_key, b"yichuang bytes encryption v1"))

    def encrypt(self, value: str, *, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), context.encode())
        return f"{VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, *, context: str) -> str:
        version, _, body = token.partition(":")
        if version != VERSION:
            raise FieldDecryptError(f"unknown field format {version!r}")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except (InvalidTag, ValueError) as exc:
            raise FieldDecryptError(f"{context} does not open with this key") from exc
        return plain.decode()

    def blind_index(self, value: str, *, context: str) -> str:
        """A keyed hash: equal values give equal hashes, and nobody without the key can guess."""
        message = context.encode() + b"\x00" + value.encode()
        return hmac.new(self._mac_key, message, hashlib.sha256).hexdigest()

    def seal_bytes(self, data: bytes, *, associated: bytes) -> bytes:
        """Nonce (12 bytes) + ciphertext + tag; `associated` must be given again to open it."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._bytes_aead.encrypt(nonce, data, associated)

    def open_bytes(self, sealed: bytes, *, associated: bytes) -> bytes:
        try:
            return self._bytes_aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
        except (InvalidTag, ValueError) as exc:
            raise FieldDecryptError("sealed bytes do not open with this key and context") from exc
