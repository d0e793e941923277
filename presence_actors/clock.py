"""One wall clock anchored to trio time.

Deadlines are trio time so `MockClock` drives them; timestamps shown to users are wall
time. Anchoring the wall clock to trio time once (wall = anchor + trio elapsed) keeps the
two in lock-step: under `MockClock` a 60-second TTL moves `last_seen` by exactly 60 s,
and tests can pin the anchor to a known instant.
"""

from __future__ import annotations

import time

import trio


class WallClock:
    """Converts between trio time (deadlines) and wall-clock epoch seconds (timestamps)."""

    __slots__ = ("_offset",)

    def __init__(self, wall_at_anchor: float | None = None) -> None:
        # Must be created inside trio.run(): trio time is per run.
        wall = time.time() if wall_at_anchor is None else wall_at_anchor
        self._offset = wall - trio.current_time()

    def now(self) -> float:
        """Wall-clock epoch seconds, advancing with trio's clock."""
        return trio.current_time() + self._offset

    def to_trio(self, wall: float) -> float:
        """The trio deadline for a wall-clock instant (for `move_on_at`)."""
        return wall - self._offset
