"""One task that writes every socket's waiting frames, pings every socket, and closes the
sockets whose token has expired.

A change offered to a thousand outboxes makes a thousand sessions call `schedule`; the
pump then flushes each once — its whole coalesced batch, one non-blocking write — in one
pass, with no task switch per socket (a task switch per delivery was most of the cost of
fan-out before; `websockets.broadcast` writes the same way). A write the socket cannot take
at once continues in a task of its own in the pump's nursery (`spawn`), under hypercorn's
send lock and the write deadline, and the session is not scheduled again until it ends.

The same loop, with its one deadline (the next tick), gives each socket a turn to be pinged
once per `ping_interval`, a slice at a time, never all at once, and pings it only if it has
sent nothing for most of an interval (`QUIET`): a live client's pong is what keeps it from
being dropped as dead, and a client that talks anyway (F2's app pings every 30 s) needs
fewer pings. Every few seconds it also drops the connections silent for their read timeout
(`raw_connection.drop_silent`: no deadline per read) and closes sockets whose token
expired (4401), from a wheel of one-second buckets. So an idle socket has no task, no cancel scope
and no deadline of its own: hypercorn's per-socket ping task cost memory and kept a closed
socket's connection (and fd) open for up to an interval.
"""

from __future__ import annotations

import collections
import heapq
import logging
import math
import weakref

import trio

from .frames import text_frame
from .raw_connection import drop_silent, sweep_interval

log = logging.getLogger("web")

SLICE = 256  # sessions flushed between checkpoints, so a huge fan-out does not hog the loop
TOKEN_EXPIRED = 4401
QUIET = 0.9  # a socket is pinged on its turn if silent for this share of the interval


class SocketPump:
    def __init__(self, ping_interval: float | None) -> None:
        self.ping_interval = ping_interval
        self.tick = min(1.0, ping_interval / 8) if ping_interval else 1.0
        self._ready: list = []
        self._wakeup: trio.Event | None = None
        self._nursery: trio.Nursery | None = None
        self._rotation: collections.deque[weakref.ref] = collections.deque()  # to ping
        self._expiring: dict[int, set] = {}  # whole second -> sessions whose token ends then
        self._seconds: list[int] = []  # heap of the keys of _expiring (and stale ones)
        self._due = 0.0  # pings owed, fractions carried from tick to tick
        self._encoded: dict[bytes, bytes] = {}  # payload -> its text frame, for one pass
        self._swept = -math.inf  # when drop_silent last looked at the connections

    def schedule(self, session) -> None:
        """`session.flush()` on the next pass (the session schedules itself once)."""
        self._ready.append(session)
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set()

    def frames_of(self, payloads: list[bytes]) -> list[bytes]:
        """The text frames of `payloads`, each payload framed once per pass however many
        sockets it goes to (a change is one bytes object offered to every outbox)."""
        encoded = self._encoded
        frames = []
        for payload in payloads:
            frame = encoded.get(payload)
            if frame is None:
                encoded[payload] = frame = text_frame(payload)
            frames.append(frame)
        return frames

    def spawn(self, task, *args) -> bool:
        """Run a write that has to wait for the socket, or a close; False once stopped.
        A task that fails is logged: it must not take every other socket's writes down."""
        if self._nursery is None:
            return False
        self._nursery.start_soon(_logged, task, *args)
        return True

    def add(self, session) -> None:
        """Ping `session` (when it can be pinged) and close it when its token expires."""
        if session.raw is not None:
            self._rotation.append(weakref.ref(session))
        second = math.ceil(session.expiry)
        bucket = self._expiring.get(second)
        if bucket is None:
            self._expiring[second] = bucket = set()
            heapq.heappush(self._seconds, second)
        bucket.add(session)

    def discard(self, session) -> None:
        bucket = self._expiring.get(math.ceil(session.expiry))
        if bucket is not None:
            bucket.discard(session)
            if not bucket:
                del self._expiring[math.ceil(session.expiry)]

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            try:
                await self._loop()
            finally:
                self._nursery = None

    async def _loop(self) -> None:
        next_tick = trio.current_time() + self.tick
        while True:
            if not self._ready:
                self._wakeup = wakeup = trio.Event()
                with trio.move_on_at(next_tick):
                    await wakeup.wait()
                self._wakeup = None
            now = trio.current_time()
            if now >= next_tick:
                self._expire(now)
                if now - self._swept >= sweep_interval():
                    self._swept = now
                    drop_silent(now)
                self._ping_some(now)
                next_tick = max(next_tick + self.tick, now)
            await self._flush_ready()

    async def _flush_ready(self) -> None:
        ready, self._ready = self._ready, []
        for i, session in enumerate(ready):
            try:
                session.flush()
            except Exception:  # a bug: it must not stop every other socket's writes
                log.exception("flushing a websocket failed")
                session.close(1011)
            if i % SLICE == SLICE - 1:
                await trio.lowlevel.checkpoint()
        self._encoded.clear()

    def _expire(self, now: float) -> None:
        seconds = self._seconds
        while seconds and seconds[0] <= now:
            for session in self._expiring.pop(heapq.heappop(seconds), ()):
                session.close(TOKEN_EXPIRED)

    def _ping_some(self, now: float) -> None:
        """Give this tick's share of the sockets their turn: each one once per interval,
        pinged if it has been quiet since `QUIET` of an interval ago."""
        if not self.ping_interval:
            return
        rotation = self._rotation
        self._due += len(rotation) * self.tick / self.ping_interval
        due, self._due = int(self._due), self._due % 1
        quiet_since = now - QUIET * self.ping_interval
        for _ in range(min(due, len(rotation))):
            ref = rotation.popleft()
            session = ref()
            if session is not None and session.is_open:
                session.ping(quiet_since)
                rotation.append(ref)


async def _logged(task, *args) -> None:
    try:
        await task(*args)
    except Exception:
        log.exception("socket task %s failed", getattr(task, "__qualname__", task))
