from __future__ import annotations

import random

import pytest

from sync.backoff import Backoff


def test_ceiling_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=60.0)
    assert [backoff.ceiling(n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.ceiling(10_000) == 60.0  # no overflow after days offline


def test_full_jitter_spreads_over_the_whole_window() -> None:
    backoff = Backoff(base=2.0, cap=300.0, rand=lambda: 0.5)
    assert backoff.next_delay(0) == 1.0
    assert backoff.next_delay(3) == 8.0
    assert Backoff(rand=lambda: 0.0).next_delay(5) == 0.0
    rng = random.Random(1)  # noqa: S311 -- a fixed, reproducible sample, not a secret
    seeded = Backoff(base=1.0, cap=30.0, rand=rng.random)
    delays = [seeded.next_delay(4) for _ in range(2_000)]
    assert all(0.0 <= delay < 16.0 for delay in delays)
    assert min(delays) < 1.0 and max(delays) > 15.0  # the whole window, not just the top


def test_failures_count_up_and_success_resets() -> None:
    backoff = Backoff(base=1.0, cap=100.0, rand=lambda: 0.999)
    waits = [backoff.failure() for _ in range(4)]
    assert waits == pytest.approx([0.999, 1.998, 3.996, 7.992])
    assert backoff.attempt == 4
    backoff.success()
    assert backoff.attempt == 0
    assert backoff.failure() == pytest.approx(0.999)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        Backoff(base=0)
    with pytest.raises(ValueError):
        Backoff(base=10, cap=5)
    with pytest.raises(ValueError):
        Backoff(rand=lambda: 1.0).next_delay(0)
    with pytest.raises(ValueError):
        Backoff().ceiling(-1)
