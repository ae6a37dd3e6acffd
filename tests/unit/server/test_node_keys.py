"""This node's keys in its data directory: made once, never overwritten, rolled by generation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from server.nodes.keys import ensure_node_keys, keys_dir, load_keyring, rotate_node_keys
from server.settings import SettingsError
from sync.envelope import directory_lookup, open_envelope, seal
from sync.keys import NodeKeys


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_keys_are_made_readable_by_the_owner_alone(tmp_path: Path) -> None:
    keys = ensure_node_keys(tmp_path)
    folder = keys_dir(tmp_path)
    assert folder == tmp_path / "secrets" / "node-keys"
    files = sorted(folder.rglob("*.pem"))
    assert [path.name for path in files] == ["receiving.pem", "signing.pem"]
    assert {_mode(path) for path in files} == {0o600}
    assert _mode(folder) == 0o700 and _mode(files[0].parent) == 0o700
    assert NodeKeys.load(folder).key_id == keys.key_id


def test_ensuring_again_never_overwrites(tmp_path: Path) -> None:
    first = ensure_node_keys(tmp_path)
    before = {path: path.read_bytes() for path in keys_dir(tmp_path).rglob("*.pem")}
    assert ensure_node_keys(tmp_path).key_id == first.key_id
    assert {path: path.read_bytes() for path in keys_dir(tmp_path).rglob("*.pem")} == before


def test_rotation_adds_a_generation_and_keeps_the_old_ones(tmp_path: Path) -> None:
    old = ensure_node_keys(tmp_path)
    new = rotate_node_keys(tmp_path)
    ring = load_keyring(tmp_path)
    assert ring.key_id == new.key_id != old.key_id
    assert [keys.key_id for keys in ring.all] == [new.key_id, old.key_id]


def test_an_envelope_sealed_to_the_old_key_still_opens_after_rotation(tmp_path: Path) -> None:
    old = ensure_node_keys(tmp_path)
    peer = NodeKeys.generate()
    sealed = seal(b"before the rotation", sender=peer, recipients=[old.public()])
    rotate_node_keys(tmp_path)
    ring = load_keyring(tmp_path)
    opened = open_envelope(sealed, me=ring.all, sender_lookup=directory_lookup([peer.public()]))
    assert opened.payload == b"before the rotation"


def test_a_broken_generation_is_reported(tmp_path: Path) -> None:
    ensure_node_keys(tmp_path)
    (keys_dir(tmp_path) / "gen-0002").mkdir()
    with pytest.raises(ValueError, match="incomplete"):
        load_keyring(tmp_path)


def test_ensuring_keys_over_a_broken_generation_says_so_in_chinese(tmp_path: Path) -> None:
    ensure_node_keys(tmp_path)
    (keys_dir(tmp_path) / "gen-0002").mkdir()
    with pytest.raises(SettingsError, match=r"密钥目录 .* 已损坏"):
        ensure_node_keys(tmp_path)
