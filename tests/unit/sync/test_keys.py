from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from sync import keys as keys_module
from sync.keys import CURVE_ORDER, NodeKeys, PublicKeys, point_of


def test_public_keys_are_uncompressed_points_with_an_id() -> None:
    keys = NodeKeys.generate()
    public = keys.public()
    assert len(public.signing) == 65 and public.signing[0] == 4
    assert len(public.receiving) == 65 and public.receiving[0] == 4
    digest = hashlib.sha256(b"yc-key-v1" + public.signing + public.receiving).digest()
    assert public.key_id == digest[:16] == keys.key_id
    assert public.signing == point_of(keys.signing.public_key())


def test_json_round_trip_is_base64url_without_padding() -> None:
    public = NodeKeys.generate().public()
    data = public.to_json()
    assert set(data) == {"key_id", "signing", "receiving"}
    assert all(
        "=" not in value and "+" not in value and "/" not in value for value in data.values()
    )
    assert PublicKeys.from_json(json.loads(json.dumps(data))) == public
    del data["key_id"]  # optional on the way in; derived anyway
    assert PublicKeys.from_json(data) == public


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_bad_public_keys_are_refused_clearly() -> None:
    good = NodeKeys.generate().public().to_json()
    point = NodeKeys.generate().public().signing
    off_curve = point[:-1] + bytes([point[-1] ^ 1])
    compressed = (
        NodeKeys.generate()
        .signing.public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    )
    cases: list[tuple[object, str]] = [
        ({**good, "signing": b64url(point[:64])}, "65-byte uncompressed"),
        ({**good, "signing": b64url(compressed)}, "65-byte uncompressed"),
        ({**good, "signing": b64url(off_curve)}, "not on the P-256 curve"),
        ({**good, "receiving": "a+b/"}, "base64url"),
        ({**good, "receiving": "abcde"}, "not valid base64url"),
        ({**good, "key_id": good["signing"][:22]}, "key_id does not match"),
        ({**good, "receiving": good["signing"]}, "must be different"),
        ({"signing": 5, "receiving": good["receiving"]}, "base64url"),
        (["not", "an", "object"], "expected an object"),
    ]
    for data, message in cases:
        with pytest.raises(ValueError, match=message):
            PublicKeys.from_json(data)


def test_signatures_are_p1363_low_s_and_verify() -> None:
    keys = NodeKeys.generate()
    public = keys.public()
    for index in range(20):
        message = f"batch {index}".encode()
        signature = keys.sign(message)
        assert len(signature) == 64
        s = int.from_bytes(signature[32:], "big")
        assert s <= CURVE_ORDER // 2
        assert public.verify(signature, message)
        assert not public.verify(signature, message + b"!")
        # the high-S twin is a valid ECDSA signature too, and verify accepts it
        twin = signature[:32] + (CURVE_ORDER - s).to_bytes(32, "big")
        assert public.verify(twin, message)
    assert not public.verify(b"\x00" * 64, b"x")
    assert not public.verify(signature[:63], b"x")
    assert not NodeKeys.generate().public().verify(keys.sign(b"x"), b"x")


def test_a_der_signature_made_elsewhere_verifies_once_converted() -> None:
    keys = NodeKeys.generate()
    der = keys.signing.sign(b"hello", ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    assert keys.public().verify(r.to_bytes(32, "big") + s.to_bytes(32, "big"), b"hello")


def test_save_and_load_with_private_files(tmp_path: Path) -> None:
    keys = NodeKeys.generate()
    folder = keys.save(tmp_path / "keys")
    assert folder == tmp_path / "keys" / "gen-0001"
    for name in ("signing.pem", "receiving.pem"):
        path = folder / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
        assert text.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    loaded = NodeKeys.load(tmp_path / "keys")
    assert loaded.public() == keys.public()


def test_files_are_never_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = NodeKeys.generate()
    first.save(tmp_path)
    before = (tmp_path / "gen-0001" / "signing.pem").read_bytes()
    # Two saves racing for the same generation number: the second must fail, not overwrite.
    monkeypatch.setattr(keys_module, "_generations", lambda directory: [])
    with pytest.raises(FileExistsError):
        NodeKeys.generate().save(tmp_path)
    (tmp_path / "gen-0001" / "receiving.pem").unlink()
    with pytest.raises(FileExistsError):  # the folder is there: still no overwrite
        NodeKeys.generate().save(tmp_path)
    assert (tmp_path / "gen-0001" / "signing.pem").read_bytes() == before
    with pytest.raises(FileExistsError):
        keys_module._write_exclusive(tmp_path / "gen-0001" / "signing.pem", b"other")
    assert (tmp_path / "gen-0001" / "signing.pem").read_bytes() == before


def test_rotation_keeps_old_generations_newest_first(tmp_path: Path) -> None:
    old, new = NodeKeys.generate(), NodeKeys.generate()
    assert old.save(tmp_path).name == "gen-0001"
    assert new.save(tmp_path).name == "gen-0002"
    assert NodeKeys.load(tmp_path).public() == new.public()
    assert [k.public() for k in NodeKeys.load_all(tmp_path)] == [new.public(), old.public()]
    (tmp_path / "notes.txt").write_text("ignored")
    assert len(NodeKeys.load_all(tmp_path)) == 2


def test_missing_or_broken_keys_are_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        NodeKeys.load(tmp_path)
    NodeKeys.generate().save(tmp_path)
    os.remove(tmp_path / "gen-0001" / "receiving.pem")
    with pytest.raises(ValueError, match="incomplete"):
        NodeKeys.load(tmp_path)


def test_only_p256_private_keys_are_accepted() -> None:
    with pytest.raises(ValueError, match="P-256"):
        NodeKeys(ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP256R1()))
