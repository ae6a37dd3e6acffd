"""How long to wait before retrying a failed sync: exponential backoff with full jitter.

Follows Marc Brooker, "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015), "Full
Jitter": sleep = random_between(0, min(cap, base * 2 ** attempt)). Spreading retries over the
whole window keeps many phones that lost the same link from all coming back at once, and the cap
keeps a node that was offline for days retrying every few minutes rather than every few hours.

Invariants:
- A delay is always within [0, min(cap, base * 2 ** attempt)); attempt 0 is the first retry.
- `failure()` counts up and returns the delay to wait; `success()` starts again from attempt 0.
- Pure: the random source is injected (a function returning a float in [0, 1)).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_BASE_S = 1.0
DEFAULT_CAP_S = 300.0
_MAX_EXPONENT = 62  # 2 ** 62 seconds is past any cap; stops float overflow


@dataclass
class Backoff:
    """Retry delays (seconds) for one link; keeps the count of failures since the last success."""

    base: float = DEFAULT_BASE_S
    cap: float = DEFAULT_CAP_S
    rand: Callable[[], float] = random.random  # jitter needs no secrecy, only spread
    attempt: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.cap:
            raise ValueError("backoff needs 0 < base <= cap")

    def ceiling(self, attempt: int) -> float:
        """The largest delay for a 0-based attempt: min(cap, base * 2 ** attempt)."""
        if attempt < 0:
            raise ValueError("attempt counts from 0")
        return min(self.cap, self.base * 2.0 ** min(attempt, _MAX_EXPONENT))

    def next_delay(self, attempt: int) -> float:
        """A full-jitter delay for a 0-based attempt, in [0, ceiling(attempt))."""
        fraction = self.rand()
        if not 0.0 <= fraction < 1.0:
            raise ValueError("the random source must return a float in [0, 1)")
        return fraction * self.ceiling(attempt)

    def failure(self) -> float:
        """Record a failed try; returns how long to wait before the next."""
        delay = self.next_delay(self.attempt)
        self.attempt += 1
        return delay

    def success(self) -> None:
        """Record a successful try: the next failure waits as little as the first."""
        self.attempt = 0
