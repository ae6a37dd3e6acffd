"""This node's own key pairs (ECDSA P-256 signing, HPKE P-256 receiving), in its data directory.

They live in `<data dir>/secrets/node-keys/gen-NNNN/` (sync.keys lays them out; 0700 folders,
0600 files, created exclusively). `ensure_node_keys` makes the first generation when there is
none and never overwrites; `rotate_node_keys` adds a generation, and the older ones stay on
disk so that envelopes sealed to them still open. A running server loads them once and again
only when the folder changes (a rotation by the CLI), so it never reads PEM files per request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from server.settings import Settings, SettingsError
from sync.keys import NodeKeys

KEYS_FOLDER = "node-keys"
_RACE_WAIT = 0.05  # another process is writing the first generation: let it finish
_RACE_ATTEMPTS = 20


def keys_dir(data_dir: Path) -> Path:
    return data_dir / "secrets" / KEYS_FOLDER


@dataclass(frozen=True, eq=False)
class Keyring:
    """The current generation (signs and is announced) and every generation (opens)."""

    current: NodeKeys
    all: tuple[NodeKeys, ...]
    stamp: int  # the folder's mtime when loaded

    @property
    def key_id(self) -> bytes:
        return self.current.key_id


def _stamp(directory: Path) -> int:
    return directory.stat().st_mtime_ns


def load_keyring(data_dir: Path) -> Keyring:
    directory = keys_dir(data_dir)
    every = NodeKeys.load_all(directory)
    return Keyring(current=every[0], all=tuple(every), stamp=_stamp(directory))


def ensure_node_keys(data_dir: Path) -> NodeKeys:
    """The node's current keys, generating the first generation if there is none."""
    directory = keys_dir(data_dir)
    directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    for _attempt in range(_RACE_ATTEMPTS):
        try:
            return NodeKeys.load(directory)
        except FileNotFoundError:
            try:
                NodeKeys.generate().save(directory)
            except FileExistsError:
                time.sleep(_RACE_WAIT)  # another process won the race: load its keys
        except ValueError:
            time.sleep(_RACE_WAIT)  # a generation still being written by another process
    try:
        return NodeKeys.load(directory)
    except ValueError as exc:
        raise SettingsError(f"本节点的密钥目录 {directory} 已损坏：{exc}") from exc


def rotate_node_keys(data_dir: Path) -> NodeKeys:
    """A new current generation; the older ones are kept for opening."""
    ensure_node_keys(data_dir)
    keys = NodeKeys.generate()
    keys.save(keys_dir(data_dir))
    return keys


class HasApp(Protocol):
    """A Starlette or a Litestar request: both keep the settings on `app.state`."""

    @property
    def app(self) -> Any: ...


def node_keys(source: HasApp | Settings) -> Keyring:
    """This node's keyring: cached on app.state for a request, read from disk for settings."""
    if isinstance(source, Settings):
        ensure_node_keys(source.data_dir)
        return load_keyring(source.data_dir)
    state = source.app.state
    settings: Settings = state.settings
    cached: Keyring | None = getattr(state, "node_keys", None)
    if cached is None or cached.stamp != _stamp(keys_dir(settings.data_dir)):
        cached = load_keyring(settings.data_dir)
        state.node_keys = cached
    return cached
