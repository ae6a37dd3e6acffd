from __future__ import annotations

import base64
import os

import pytest

from server.crypto.fields import FieldCipher, FieldDecryptError


def test_round_trip_and_fresh_nonce() -> None:
    cipher = FieldCipher(os.urandom(32))
    one = cipher.encrypt("13800138000", context="user_account.phone")
    two = cipher.encrypt("13800138000", context="user_account.phone")
    assert one != two  # random nonce: equal phones do not give equal ciphertexts
    assert "13800138000" not in one
    assert cipher.decrypt(one, context="user_account.phone") == "13800138000"


def test_other_column_other_key_or_tampering_do_not_open() -> None:
    key = os.urandom(32)
    sealed = FieldCipher(key).encrypt("13800138000", context="user_account.phone")
    with pytest.raises(FieldDecryptError):
        FieldCipher(key).decrypt(sealed, context="case.applicant_phone")
    with pytest.raises(FieldDecryptError):
        FieldCipher(os.urandom(32)).decrypt(sealed, context="user_account.phone")
    raw = bytearray(base64.urlsafe_b64decode(sealed.split(":", 1)[1]))
    raw[-1] ^= 1
    tampered = "v1:" + base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(FieldDecryptError):
        FieldCipher(key).decrypt(tampered, context="user_account.phone")


def test_blind_index_is_keyed_and_stable() -> None:
    key = os.urandom(32)
    first = FieldCipher(key).blind_index("13800138000", context="phone")
    assert first == FieldCipher(key).blind_index("13800138000", context="phone")
    assert first != FieldCipher(os.urandom(32)).blind_index("13800138000", context="phone")
    assert first != FieldCipher(key).blind_index("13800138000", context="id_number")
    assert len(first) == 64


def test_bytes_round_trip_bound_to_their_context() -> None:
    key = os.urandom(32)
    cipher = FieldCipher(key)
    data = b"\x89PNG scan of an ID card " * 100
    sealed = cipher.seal_bytes(data, associated=b"attachment_chunk\x00abc\x000")
    assert data[:20] not in sealed and len(sealed) == len(data) + 12 + 16
    assert sealed != cipher.seal_bytes(data, associated=b"attachment_chunk\x00abc\x000")
    assert cipher.open_bytes(sealed, associated=b"attachment_chunk\x00abc\x000") == data
    for wrong in (b"attachment_chunk\x00abc\x001", b"attachment_chunk\x00abd\x000"):
        with pytest.raises(FieldDecryptError):
            cipher.open_bytes(sealed, associated=wrong)
    with pytest.raises(FieldDecryptError):
        FieldCipher(os.urandom(32)).open_bytes(sealed, associated=b"attachment_chunk\x00abc\x000")
    flipped = bytearray(sealed)
    flipped[20] ^= 1
    with pytest.raises(FieldDecryptError):
        cipher.open_bytes(bytes(flipped), associated=b"attachment_chunk\x00abc\x000")
    with pytest.raises(FieldDecryptError):
        cipher.open_bytes(b"short", associated=b"")
