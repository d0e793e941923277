"""One-for-one supervision with bounded restart intensity.

Each child runs in the supervisor's nursery inside a restart loop: when it raises, the
same `run(*args)` is called again and nothing else notices. For an actor that means it
resumes from its last completed step (the actor keeps `last_state`; the message that
crashed it is dropped and its caller told). A child that crashes more than `max_restarts`
times within `period` seconds is given up: its `on_give_up` callback runs and the loop
ends, so a poisoned actor cannot spin. For an actor, the next message then starts a fresh
one, which rebuilds from the store and the live sessions. Cancellation is never caught.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio

log = logging.getLogger("presence_actors.supervisor")


@dataclass(frozen=True, slots=True)
class SupervisorStatistics:
    running: int
    restarts: int
    given_up: int


class Supervisor:
    def __init__(self, nursery: trio.Nursery, max_restarts: int, period: float) -> None:
        self._nursery = nursery
        self._max_restarts = max_restarts
        self._period = period
        self.running = 0
        self._idle: trio.Event | None = None
        self.restarts = 0
        self.given_up = 0

    def spawn(
        self,
        name: str,
        run: Callable[..., Awaitable[Any]],
        *args: Any,
        on_give_up: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Start `run(*args)` as a supervised child (no await: actors start lazily and
        cheaply; nothing is allocated per child beyond its task until it first crashes)."""
        self._nursery.start_soon(self._child, name, run, args, on_give_up, name=name)

    def spawn_self_restarting(
        self, name: str, run: Callable[..., Awaitable[Any]], *args: Any
    ) -> None:
        """Start `run(self, name, *args)`, a child that runs the restart loop itself: it
        calls `started` first, `crashed` on each crash and `ended` when it ends. The same
        supervision as `spawn` without a wrapper coroutine per child (an actor per user:
        ~0.3 KB each)."""
        self._nursery.start_soon(run, self, name, *args, name=name)

    def started(self) -> None:
        self.running += 1

    def ended(self) -> None:
        self.running -= 1
        if not self.running and self._idle is not None:
            self._idle.set()
            self._idle = None

    def crashed(
        self, name: str, exc: Exception, crashes: deque[float] | None
    ) -> deque[float] | None:
        """Count a crash of `name`: the crash times to keep for its next crash, or None
        when it crashed too often and must give up."""
        crashes = crashes if crashes is not None else deque()
        if self._too_many(crashes, trio.current_time()):
            self.given_up += 1
            log.error("%s crashed %d times in %.0f s; giving up",
                      name, len(crashes), self._period, exc_info=exc)
            return None
        self.restarts += 1
        log.warning("%s crashed; restarting", name, exc_info=exc)
        return crashes

    async def _child(
        self,
        name: str,
        run: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        on_give_up: Callable[[BaseException], None] | None,
    ) -> None:
        crashes: deque[float] | None = None  # made on the first crash: most never crash
        self.started()
        try:
            while True:
                try:
                    await run(*args)
                    return
                except Exception as exc:
                    crashes = self.crashed(name, exc, crashes)
                    if crashes is None:
                        if on_give_up is not None:
                            on_give_up(exc)
                        return
        finally:
            self.ended()

    def _too_many(self, crashes: deque[float], now: float) -> bool:
        """Count a crash at `now`: True once more than `max_restarts` fall within `period`."""
        crashes.append(now)
        while crashes and crashes[0] <= now - self._period:
            crashes.popleft()
        return len(crashes) > self._max_restarts

    async def wait_idle(self) -> None:
        """Wait until no child is running."""
        if self.running:
            self._idle = self._idle or trio.Event()
            await self._idle.wait()

    def statistics(self) -> SupervisorStatistics:
        return SupervisorStatistics(self.running, self.restarts, self.given_up)


@asynccontextmanager
async def open_supervisor(max_restarts: int = 3, period: float = 10.0):
    """A supervisor whose children are cancelled when the block exits."""
    async with trio.open_nursery() as nursery:
        supervisor = Supervisor(nursery, max_restarts, period)
        try:
            yield supervisor
        finally:
            nursery.cancel_scope.cancel()
