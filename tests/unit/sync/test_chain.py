from __future__ import annotations

import hashlib
from typing import Any

import pytest

from sync.chain import GENESIS, canonical, event_hash, verify_chain


def chain(count: int, case: str = "c1") -> list[tuple[dict[str, Any], str]]:
    events, prev = [], GENESIS
    for seq in range(1, count + 1):
        event = {
            "id": f"e{seq}",
            "case": case,
            "seq": seq,
            "kind": "accept",
            "actor": 7,
            "node": "990102101000",
            "at": f"2026-11-22T08:0{seq}:00+00:00",
            "body": {"note": "受理", "materials": ["居民身份证"]},
            "prev": prev,
        }
        prev = event_hash(event)
        events.append((event, prev))
    return events


def test_canonical_form_is_fixed() -> None:
    assert canonical({"b": 1, "a": ["甲", True, None]}) == '{"a":["甲",true,null],"b":1}'.encode()
    # The canonical bytes written out by hand: if the form ever changes, every stored chain
    # breaks, so this test must never be "updated" to match new output.
    event = chain(1)[0][0]
    by_hand = (
        '{"actor":7,"at":"2026-11-22T08:01:00+00:00","body":{"materials":["居民身份证"],'
        '"note":"受理"},"case":"c1","id":"e1","kind":"accept","node":"990102101000",'
        f'"prev":"{GENESIS}","seq":1}}'
    )
    assert canonical(event) == by_hand.encode()
    assert event_hash(event) == hashlib.sha256(by_hand.encode()).hexdigest()
    assert event_hash(event) == event_hash(dict(reversed(list(event.items()))))


def test_floats_and_odd_fields_are_refused() -> None:
    with pytest.raises(TypeError):
        canonical({"amount": 1.5})
    with pytest.raises(ValueError, match="missing"):
        event_hash({"id": "x"})


def test_a_good_chain_verifies() -> None:
    assert verify_chain("c1", chain(5)) is None


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("body", {"note": "不予受理"}, "content does not match"),
        ("actor", 8, "content does not match"),
        ("prev", "f" * 64, "link to the previous event"),
        ("seq", 9, "expected event number 3"),
        ("case", "c2", "belongs to case c2"),
    ],
)
def test_any_change_is_found_at_its_event(field: str, value: Any, reason: str) -> None:
    events = chain(5)
    events[2][0][field] = value
    found = verify_chain("c1", events)
    assert found is not None and reason in found.reason
    assert found.seq in (3, 9)


def test_dropped_or_reordered_events_break_the_chain() -> None:
    events = chain(4)
    dropped = verify_chain("c1", events[:1] + events[2:])
    assert dropped is not None and dropped.seq == 3
    swapped = verify_chain("c1", [events[1], events[0], *events[2:]])
    assert swapped is not None and swapped.seq == 2
