"""The node clock on the wire (server/relay/clock.py): merging a skewed peer's stamps."""

from __future__ import annotations

import pytest

from server.relay import clock
from server.relay.clock import MAX_DRIFT_MS, causal_order, parse_stamp, stamp_local, stamp_received
from sync.hlc import HybridClock, Stamp

NOW = 1_800_000_000_000
HOUR = 3600 * 1000


@pytest.fixture
def county(monkeypatch: pytest.MonkeyPatch) -> HybridClock:
    here = HybridClock(node="990102", wall=lambda: NOW, max_drift_ms=MAX_DRIFT_MS)
    monkeypatch.setitem(clock._CLOCKS, "990102", here)
    return here


def test_a_stamp_from_a_fast_clock_is_merged_and_ours_follow_it(county: HybridClock) -> None:
    ahead = Stamp(NOW + HOUR, 5, "990102101000")  # the township's clock is an hour fast
    merged = parse_stamp(stamp_received("990102", str(ahead)))
    assert merged == Stamp(NOW + HOUR, 6, "990102")
    later = parse_stamp(stamp_local("990102"))
    assert later is not None and later > ahead  # what we do next comes after what we saw


def test_a_stamp_from_a_slow_clock_keeps_our_time(county: HybridClock) -> None:
    behind = Stamp(NOW - HOUR, 0, "990102101000")
    assert stamp_received("990102", str(behind)) == str(Stamp(NOW, 0, "990102"))


def test_a_stamp_too_far_ahead_is_not_merged(county: HybridClock) -> None:
    wild = Stamp(NOW + MAX_DRIFT_MS + 1, 0, "990102101000")
    assert stamp_received("990102", str(wild)) == str(Stamp(NOW, 0, "990102"))
    assert stamp_local("990102") == str(Stamp(NOW, 1, "990102"))


@pytest.mark.parametrize("text", ["", "yesterday", None, 42])
def test_a_missing_or_malformed_stamp_gets_a_local_one(county: HybridClock, text: object) -> None:
    assert stamp_received("990102", text) == str(Stamp(NOW, 0, "990102"))


def test_causal_order_puts_unstamped_events_first_then_by_stamp() -> None:
    class Event:
        def __init__(self, seq: int, hlc: str) -> None:
            self.seq, self.hlc = seq, hlc

    events = [
        Event(3, str(Stamp(NOW, 0, "990102101000"))),
        Event(2, str(Stamp(NOW - 1, 9, "990102"))),
        Event(1, ""),
    ]
    assert [e.seq for e in causal_order(events)] == [1, 2, 3]
