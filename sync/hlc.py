"""A hybrid logical clock: timestamps that follow wall time yet never go backwards.

Follows Kulkarni, Demirbas et al., "Logical Physical Clocks and Consistent Snapshots in Globally
Distributed Databases" (2014), the HLC algorithm as the paper gives it: a stamp is (l, c) where
l is the largest wall time seen (here Unix milliseconds) and c counts events within the same l.
`now()` stamps a local or send event, `observe(remote)` a receive event. Ties between nodes are
broken by the node id, so stamps are totally ordered.

Invariants:
- Every stamp a clock returns is greater than every stamp it returned or observed before.
- l stays close to wall time: it only runs ahead of the local clock by as much as a remote clock
  did, which `max_drift_ms` can refuse (the paper suggests ignoring messages too far ahead).
- `str(stamp)` is fixed width up to the node id (13-digit ms, 4-digit counter), so strings sort
  exactly as stamps do: `WWWWWWWWWWWWW-CCCC-<node>`.
- The counter has four digits; should it reach 9999 within one millisecond, l moves on by one
  millisecond (a stamp at most a few ms ahead of wall time) rather than overflow.

Pure: the time source is injected; the default reads the system clock.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_WALL_MS = 9_999_999_999_999  # 13 digits: year 2286
MAX_COUNTER = 9_999
_STAMP = re.compile(r"(\d{13})-(\d{4})-(\S+)")


def system_ms() -> int:
    """Unix time in milliseconds from the system clock."""
    return time.time_ns() // 1_000_000


class ClockDrift(ValueError):
    """A remote stamp lies further ahead of the local clock than allowed."""


@dataclass(frozen=True, order=True)
class Stamp:
    """One hybrid-logical-clock timestamp: wall milliseconds, counter, node id."""

    wall: int
    counter: int
    node: str

    def __post_init__(self) -> None:
        if not 0 <= self.wall <= MAX_WALL_MS or not 0 <= self.counter <= MAX_COUNTER:
            raise ValueError("stamp out of range")
        if not self.node or re.search(r"\s", self.node):
            raise ValueError("a node id is a non-empty string without spaces")

    def __str__(self) -> str:
        return f"{self.wall:013d}-{self.counter:04d}-{self.node}"

    @classmethod
    def parse(cls, text: str) -> Stamp:
        """The stamp a string from `str(stamp)` stands for."""
        match = _STAMP.fullmatch(text)
        if match is None:
            raise ValueError(f"not a clock stamp: {text!r}")
        return cls(int(match.group(1)), int(match.group(2)), match.group(3))


@dataclass
class HybridClock:
    """One node's clock; not thread-safe (one per process, used under the caller's lock)."""

    node: str
    wall: Callable[[], int] = system_ms
    max_drift_ms: int | None = None
    _last: int = field(default=0, init=False)
    _counter: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        Stamp(0, 0, self.node)  # validates the node id

    def now(self) -> Stamp:
        """A stamp for a local or send event."""
        physical = self.wall()
        if physical > self._last:
            self._last, self._counter = physical, 0
        else:
            self._counter += 1
        return self._stamp()

    def observe(self, remote: Stamp) -> Stamp:
        """A stamp for receiving `remote`: after both it and everything this clock stamped."""
        physical = self.wall()
        if self.max_drift_ms is not None and remote.wall - physical > self.max_drift_ms:
            raise ClockDrift(f"remote clock is {remote.wall - physical} ms ahead of ours")
        latest = max(self._last, remote.wall, physical)
        if latest == self._last == remote.wall:
            self._counter = max(self._counter, remote.counter) + 1
        elif latest == self._last:
            self._counter += 1
        elif latest == remote.wall:
            self._counter = remote.counter + 1
        else:
            self._counter = 0
        self._last = latest
        return self._stamp()

    def skew(self, remote_wall: int) -> int:
        """How far (ms) a remote wall time is ahead of ours; negative when it is behind."""
        return remote_wall - self.wall()

    def _stamp(self) -> Stamp:
        if self._counter > MAX_COUNTER:
            self._last, self._counter = self._last + 1, 0
        return Stamp(self._last, self._counter, self.node)
