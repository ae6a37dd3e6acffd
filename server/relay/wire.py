"""Events and payloads as they travel between nodes (docs/sync.md, "Wire").

An event travels in the chain's canonical form (sync/chain.py FIELDS, its body in clear) plus
its `hash` and, when it has one, its hybrid-logical-clock stamp `hlc` (outside the hash);
every payload is canonical JSON inside a sealed envelope. At rest each node keeps bodies
encrypted with its own data key, so the sender opens them and the receiver re-encrypts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from server.cases.events import event_fields, open_body
from server.cases.models import CaseEvent
from server.crypto.fields import FieldCipher
from sync.chain import FIELDS, canonical

MAX_ID = 36
HASH_SIZE = 64
MAX_STAMP = 64


class WireError(ValueError):
    """A payload or an event that does not have the agreed shape."""


def event_to_wire(cipher: FieldCipher, event: CaseEvent) -> dict[str, Any]:
    """The stored event as it travels: canonical fields with the clear body, plus its hash
    (and its clock stamp, if it has one)."""
    wire = {**event_fields(event, open_body(cipher, event)), "hash": event.hash}
    if event.hlc:
        wire["hlc"] = event.hlc
    return wire


def wire_fields(item: object) -> tuple[dict[str, Any], str]:
    """Check one received event's shape; returns (canonical fields, claimed hash)."""
    if not isinstance(item, Mapping) or set(item) - {"hlc"} != {*FIELDS, "hash"}:
        raise WireError(
            "an event must have exactly the fields " + ", ".join([*FIELDS, "hash"]) + " (and hlc)"
        )
    if "hlc" in item and not (isinstance(item["hlc"], str) and len(item["hlc"]) <= MAX_STAMP):
        raise WireError("hlc must be a clock stamp string")
    fields = {key: item[key] for key in FIELDS}
    strings = ("id", "case", "kind", "actor", "node", "at", "prev")
    if not all(isinstance(fields[key], str) for key in strings):
        raise WireError("id, case, kind, actor, node, at and prev must be strings")
    if not isinstance(item["hash"], str) or len(item["hash"]) != HASH_SIZE:
        raise WireError("hash must be 64 hex digits")
    if len(fields["id"]) > MAX_ID or len(fields["case"]) > MAX_ID:
        raise WireError("id and case are UUIDs")
    if not isinstance(fields["seq"], int) or isinstance(fields["seq"], bool) or fields["seq"] < 1:
        raise WireError("seq must be a positive integer")
    if not isinstance(fields["body"], dict):
        raise WireError("body must be an object")
    try:
        at = dt.datetime.fromisoformat(fields["at"])
    except ValueError:
        raise WireError("at must be an ISO 8601 time") from None
    if at.tzinfo is None:
        raise WireError("at must carry its time zone")
    return fields, str(item["hash"])


def encode(payload: Mapping[str, Any]) -> bytes:
    """A payload's bytes inside the envelope: canonical JSON."""
    return canonical(dict(payload))


def decode(data: bytes, expected_type: str) -> dict[str, Any]:
    """A payload out of an opened envelope: an object of the expected `type`."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):  # the last: nested too deep
        raise WireError("the payload is not JSON") from None
    if not isinstance(value, dict) or value.get("type") != expected_type:
        raise WireError(f"expected a payload of type {expected_type!r}")
    return value


def wire_size(event: Mapping[str, Any]) -> int:
    """Bytes one event takes in a payload (for the batch budget)."""
    return len(canonical(dict(event))) + 1
