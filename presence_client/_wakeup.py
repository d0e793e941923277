"""The one wait every client loop does: until a poke or its single deadline."""

from __future__ import annotations

import math
from typing import Protocol

import trio


class Session(Protocol):
    """What the loops need from the manager: the token to use and where to report."""

    @property
    def token(self) -> str | None:
        """The token, or None while nothing may be sent (logged out, expired, terminated)."""

    def unauthorized(self, reason: str) -> None:
        """A 401, or close 4401 or 4403: stop everything until the next login."""

    def network_back(self) -> None:
        """A call succeeded: updates held for want of a network may go now."""

    def socket_lost(self) -> None:
        """The socket that kept the device alive is closed: heartbeat soon, not in 30 s."""


class Wakeup:
    """A reusable poke: `set()` from sync code, `wait_until(deadline)` in the loop."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait_until(self, deadline: float | None) -> bool:
        """Wait for a poke or `deadline` (trio time); True when the deadline came first.

        A poke that arrives while the loop is busy is not lost: the next wait returns at once.
        """
        with trio.move_on_at(math.inf if deadline is None else deadline) as scope:
            await self._event.wait()
        if not scope.cancelled_caught:
            self._event = trio.Event()
        return scope.cancelled_caught
