from __future__ import annotations

import random

import pytest

from sync.hlc import MAX_COUNTER, ClockDrift, HybridClock, Stamp


class FakeWall:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def test_now_follows_the_wall_clock_and_counts_within_a_millisecond() -> None:
    wall = FakeWall(1_763_800_000_000)
    clock = HybridClock("990102101000", wall=wall)
    assert clock.now() == Stamp(1_763_800_000_000, 0, "990102101000")
    assert clock.now() == Stamp(1_763_800_000_000, 1, "990102101000")
    wall.ms += 5
    assert clock.now() == Stamp(1_763_800_000_005, 0, "990102101000")


def test_a_wall_clock_that_steps_back_does_not_move_stamps_back() -> None:
    wall = FakeWall(2_000)
    clock = HybridClock("a", wall=wall)
    first = clock.now()
    wall.ms = 1_000  # NTP stepped the clock back a second
    second, third = clock.now(), clock.now()
    assert first < second < third
    assert second == Stamp(2_000, 1, "a")


def test_observe_moves_past_a_remote_stamp_ahead_of_us() -> None:
    wall = FakeWall(1_000)
    clock = HybridClock("a", wall=wall)
    clock.now()
    seen = clock.observe(Stamp(5_000, 7, "b"))
    assert seen == Stamp(5_000, 8, "a")
    assert clock.now() == Stamp(5_000, 9, "a")  # still ahead of our wall: counter goes on
    wall.ms = 6_000
    assert clock.now() == Stamp(6_000, 0, "a")


def test_observe_cases_of_the_algorithm() -> None:
    wall = FakeWall(1_000)
    clock = HybridClock("a", wall=wall)
    clock.now()  # (1000, 0)
    clock.now()  # (1000, 1)
    # l == remote l: counter is one past the larger counter
    assert clock.observe(Stamp(1_000, 5, "b")) == Stamp(1_000, 6, "a")
    # remote behind us: our counter goes on
    assert clock.observe(Stamp(900, 50, "b")) == Stamp(1_000, 7, "a")
    # wall ahead of both: counter restarts
    wall.ms = 2_000
    assert clock.observe(Stamp(1_500, 3, "b")) == Stamp(2_000, 0, "a")


def test_stamps_from_many_nodes_are_monotonic_and_strings_sort_like_stamps() -> None:
    rng = random.Random(7)  # noqa: S311 -- a fixed, reproducible sample, not a secret
    walls = {name: FakeWall(1_763_800_000_000 + rng.randrange(-50, 50)) for name in "abc"}
    clocks = {name: HybridClock(f"node-{name}", wall=walls[name]) for name in "abc"}
    last: dict[str, Stamp] = {}
    produced: list[Stamp] = []
    for _ in range(2_000):
        name = rng.choice("abc")
        walls[name].ms += rng.choice([0, 0, 1, 3, -2])
        if produced and rng.random() < 0.4:
            remote = rng.choice(produced)
            stamp = clocks[name].observe(remote)
            assert stamp > remote
        else:
            stamp = clocks[name].now()
        if name in last:
            assert stamp > last[name]
        last[name] = stamp
        produced.append(stamp)
    shuffled = produced[:]
    rng.shuffle(shuffled)
    assert sorted(shuffled) == sorted(shuffled, key=str)
    assert [Stamp.parse(str(stamp)) for stamp in produced] == produced


def test_an_observed_stamp_is_always_after_the_remote_one() -> None:
    clock = HybridClock("a", wall=FakeWall(10))
    for remote in (Stamp(5, 3, "z"), Stamp(10, 9, "z"), Stamp(99, 0, "b")):
        assert clock.observe(remote) > remote


def test_string_form_is_fixed_width() -> None:
    stamp = Stamp(1_763_800_000_000, 42, "990102101000")
    assert str(stamp) == "1763800000000-0042-990102101000"
    assert str(Stamp(5, 0, "x")) == "0000000000005-0000-x"
    assert str(Stamp(5, 0, "x")) < str(Stamp(10, 0, "x")) < str(Stamp(10, 1, "a"))
    with pytest.raises(ValueError):
        Stamp.parse("176380000000-0042-x")
    with pytest.raises(ValueError):
        Stamp(1, 0, "has space")
    with pytest.raises(ValueError):
        HybridClock("")


def test_counter_overflow_moves_to_the_next_millisecond() -> None:
    clock = HybridClock("a", wall=FakeWall(1_000))
    stamps = [clock.now() for _ in range(MAX_COUNTER + 3)]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert stamps[MAX_COUNTER] == Stamp(1_000, MAX_COUNTER, "a")
    assert stamps[MAX_COUNTER + 1] == Stamp(1_001, 0, "a")


def test_skew_and_the_drift_limit() -> None:
    clock = HybridClock("a", wall=FakeWall(10_000), max_drift_ms=60_000)
    assert clock.skew(12_500) == 2_500
    assert clock.skew(9_000) == -1_000
    clock.observe(Stamp(70_000, 0, "b"))  # exactly at the limit
    with pytest.raises(ClockDrift):
        clock.observe(Stamp(70_001, 0, "b"))
