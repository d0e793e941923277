"""`open_presence_kit`: the whole service in this process, on trio's current clock.

The real Quart app (`web.create_app`) runs on the core's `MemoryStore`, with its wall clock
pinned to a chosen instant and every timing of SPEC §12 configurable; the kit drives it
through the in-memory ASGI transport (`asgi.py`) with virtual clients (`clients.py`). On
`MockClock(autojump_threshold=0)` (the `presence` fixture's clock) a 600-second TTL passes
in no wall time, and `last_seen` values are exact strings.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import datetime
from typing import Any

import trio
import trio.testing

from presence_actors import DirectoryData, MemoryStore, Timing, WallClock, format_time, parse_time
from web.app import create_app
from web.config import Settings
from web.host import host_of
from web.tokens import mint

from .asgi import InMemoryTransport, app_lifespan
from .clients import VirtualClient
from .directories import DEFAULT_DIRECTORY, directory_data

DEFAULT_START = "2024-01-01T12:00:00Z"
SECRET = "presence-actors-testing-kit-secret-long-enough-for-every-hs-algorithm"
TOKEN_TTL = 365 * 24 * 3600.0  # a kit token outlives any test unless it asks otherwise
_SNAP = 1e-6  # advance() also fires an actor deadline this close past its target


def kit_settings(timing: Timing | None = None, **overrides: Any) -> Settings:
    """The app's settings for a kit: `timing`'s values, the kit's JWT secret, no demo.

    Raises:
        ValueError: a `Timing` field the app cannot be given (it is not a setting) was
            changed from its default.
    """
    timing = timing or Timing()
    names = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {"jwt_secret": SECRET, "port": 0}
    for spec in fields(Timing):
        value = getattr(timing, spec.name)
        if spec.name in names:
            values[spec.name] = value
        elif value != spec.default:
            raise ValueError(f"Timing.{spec.name} is not a setting of the app (SPEC §12); "
                             f"the kit runs the app, so it cannot be changed here")
    values.update(overrides)
    return Settings(**values)


def epoch(start: str | float | datetime) -> float:
    """An instant as epoch seconds: ISO 8601 text, a datetime (naive means UTC) or a number."""
    if isinstance(start, str):
        return parse_time(start)
    if isinstance(start, datetime):
        return parse_time(start.isoformat())
    return float(start)


class PresenceKit:
    """A running service and what a test drives it with. Build it with `open_presence_kit`."""

    def __init__(self, app: Any, transport: InMemoryTransport, nursery: trio.Nursery,
                 store: MemoryStore, wall: WallClock, start: float) -> None:
        self.app = app
        self.transport = transport
        self.store = store
        self.wall = wall
        self.start = start
        self.clients: list[VirtualClient] = []
        self._nursery = nursery

    # --- what runs ---------------------------------------------------------------------

    @property
    def service(self):
        """The `PresenceService` behind the app (for reads and statistics)."""
        return host_of(self.app).service

    @property
    def settings(self) -> Settings:
        return host_of(self.app).settings

    @property
    def http(self):
        """An `httpx.AsyncClient` to the app, in memory (`base_url` http://presence.test)."""
        return self.transport.http

    # --- clients -----------------------------------------------------------------------

    def token(self, user_id: int, *, ttl: float = TOKEN_TTL, sid: str | None = None) -> str:
        """A token the app accepts for `user_id`, expiring `ttl` seconds from the kit's now."""
        return mint(self.settings, user_id, ttl, sid, now=self.wall.now())

    def client(self, user_id: int, device: str | None = None, *,
               token: str | None = None) -> VirtualClient:
        """A virtual client: one device of `user_id`. `device` is its `X-Device-ID` (None
        sends none, so the server uses the token's `sid` or "default"); `token` defaults to
        a fresh one from `token(user_id)`."""
        client = VirtualClient(self.transport, self._nursery, user_id,
                               token or self.token(user_id), device, self.settle)
        self.clients.append(client)
        return client

    # --- time ----------------------------------------------------------------------------

    def now(self) -> float:
        """The service's wall clock, epoch seconds."""
        return self.wall.now()

    @property
    def elapsed(self) -> float:
        """Seconds since the kit started (virtual on MockClock)."""
        return self.wall.now() - self.start

    def timestamp(self, seconds_after_start: float = 0.0) -> str:
        """The wire form (ISO 8601, whole seconds, `Z`) of the kit's start plus an offset:
        what `last_seen` says of something that happened then."""
        return format_time(self.start + seconds_after_start)

    async def settle(self) -> None:
        """Wait until everything that can run has run, without moving the clock: every
        actor waits on its mailbox or its deadline, every frame reached its socket."""
        await trio.testing.wait_all_tasks_blocked()

    def next_deadline(self) -> float | None:
        """Seconds until the earliest deadline of any actor (an expiry, a rate window),
        or None when no actor has one."""
        deadline = self.service.registry.next_deadline()
        return None if deadline is None else max(0.0, deadline - self.wall.now())

    async def advance(self, seconds: float) -> None:
        """Let `seconds` pass, every deadline on the way firing in order, then settle.

        Raises:
            RuntimeError: the clock is not a `trio.testing.MockClock`.
            ValueError: `seconds` is negative or not a number.
        """
        if not seconds >= 0 or math.isinf(seconds):
            raise ValueError(f"advance() takes a finite duration >= 0, not {seconds!r}")
        await self._advance_to(self.wall.to_trio(self.wall.now() + seconds))

    async def advance_to_next_deadline(self) -> float | None:
        """Advance to the earliest actor deadline and settle; the seconds that passed, or
        None (nothing moves) when no actor has a deadline.

        Raises:
            RuntimeError: the clock is not a `trio.testing.MockClock`.
        """
        await self.settle()
        seconds = self.next_deadline()
        if seconds is not None:
            await self.advance(seconds)
        return seconds

    async def _advance_to(self, target: float) -> None:
        clock = _mock_clock()
        await self.settle()
        threshold = clock.autojump_threshold
        clock.autojump_threshold = 0  # a manual MockClock jumps too, deadline by deadline
        try:
            await trio.sleep_until(target)
            await self.settle()
            # Wall-clock arithmetic rounds (~1e-7 s at today's epoch): a deadline that
            # rounding left a hair past the target fires now, as the test meant.
            while (deadline := self.next_deadline()) is not None and deadline > 0 \
                    and trio.current_time() + deadline <= target + _SNAP:
                await trio.sleep(deadline)
                await self.settle()
        finally:
            clock.autojump_threshold = threshold

    # --- the directory -------------------------------------------------------------------

    @property
    def directory(self) -> DirectoryData:
        """The directory the service runs with now."""
        return self.service.directory.data

    async def set_directory(self, directory: Mapping | DirectoryData) -> None:
        """Replace the directory (SPEC §12 shape or `DirectoryData`) and let the service
        load it at once, as after `presence-actors directory import`; then settle.

        Raises:
            storage.DirectoryFileError: the directory is malformed (nothing changes).
        """
        self.store.directory = directory_data(directory)
        await self.service.refresh_directory(force=True)
        await self.settle()


def _mock_clock() -> trio.testing.MockClock:
    clock = trio.lowlevel.current_clock()
    if not isinstance(clock, trio.testing.MockClock):
        raise RuntimeError("advance() needs trio.testing.MockClock: use the `presence` "
                           "fixture, or run the test with the `autojump_clock` fixture")
    return clock


@asynccontextmanager
async def open_presence_kit(
    directory: Mapping | DirectoryData = DEFAULT_DIRECTORY,
    *,
    timing: Timing | None = None,
    start: str | float | datetime = DEFAULT_START,
    **settings: Any,
) -> AsyncIterator[PresenceKit]:
    """Run the service (the real app, the memory store) until the block ends.

    `directory`: the SPEC §12 JSON shape or `DirectoryData`. `timing`: every SPEC timing
    (`presence_actors.Timing`). `start`: the wall-clock instant at which the kit starts
    (ISO 8601, a datetime or epoch seconds). `settings`: other `web.config.Settings`
    fields (e.g. `jwt_leeway=0`). Leaving closes every socket and stops the app.

    Raises:
        storage.DirectoryFileError: a malformed directory.
        ValueError: a `Timing` field the app cannot be given.
        LifespanFailed: the app failed to start.
    """
    store = MemoryStore(directory_data(directory))
    started_at = epoch(start)
    wall = WallClock(started_at)
    app = create_app(kit_settings(timing, **settings), store=store, clock=wall,
                     freeze_heap=False)
    async with trio.open_nursery() as nursery:
        transport = InMemoryTransport(app, nursery)
        async with app_lifespan(app, nursery):
            kit = PresenceKit(app, transport, nursery, store, wall, started_at)
            try:
                yield kit
            finally:
                for client in kit.clients:
                    for socket in client.sockets:
                        socket.close_nowait()
        await transport.aclose()
        nursery.cancel_scope.cancel()
