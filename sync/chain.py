"""The hash chain of a case's events: every event names the hash of the one before it.

An event's hash is SHA-256 over its canonical form: a JSON object with exactly the keys
`id, case, seq, kind, actor, node, at, body, prev`, keys sorted, no spaces, UTF-8, no ASCII
escaping of Chinese text (RFC 8785-style canonical JSON for the values we use: strings,
integers, booleans, null, lists and objects; no floats). `prev` of the first event (seq 1) is
64 zeros. Changing any field of any event, dropping one or reordering them breaks every hash
from there on, so a node that receives a case's events can check them without trusting the
sender, and `yichuang verify` can find a case whose stored events were edited.

This module is independent of the server (DESIGN.md §2): the county verifies with the same code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
FIELDS = ("id", "case", "seq", "kind", "actor", "node", "at", "body", "prev")


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes; floats are refused so that every node writes the same bytes."""
    _refuse_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("floats are not allowed in hashed event data; use integers or strings")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("object keys must be strings")
            _refuse_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_floats(item)


def event_hash(event: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the event's canonical form; `event` has exactly FIELDS."""
    missing = set(FIELDS) - set(event)
    extra = set(event) - set(FIELDS)
    if missing or extra:
        raise ValueError(f"event fields: missing {sorted(missing)}, unexpected {sorted(extra)}")
    return hashlib.sha256(canonical(dict(event))).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """Where a case's chain first fails, and why (for logs and `yichuang verify`)."""

    case: str
    seq: int
    reason: str


def verify_chain(case: str, events: Iterable[tuple[Mapping[str, Any], str]]) -> ChainBreak | None:
    """Check (event, stored hash) pairs in sequence order: numbering, links and hashes."""
    prev, expected_seq = GENESIS, 1
    for event, stored in events:
        seq = int(event["seq"])
        if event["case"] != case:
            return ChainBreak(case, seq, f"event {event['id']} belongs to case {event['case']}")
        if seq != expected_seq:
            return ChainBreak(case, seq, f"expected event number {expected_seq}, found {seq}")
        if event["prev"] != prev:
            return ChainBreak(case, seq, "the link to the previous event does not match")
        actual = event_hash(event)
        if actual != stored:
            return ChainBreak(case, seq, "the event's content does not match its hash")
        prev, expected_seq = stored, seq + 1
    return None
