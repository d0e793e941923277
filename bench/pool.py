"""A load-process role holding many WebSocket subscribers.

Modes: `count` only counts frames (and parses one in 256 to check it carries exactly one
event); `record` parses every frame and keeps (watcher, event, receive time) for latency
and loss accounting; `idle` keeps the sockets open. Receive times are `time.monotonic()`,
the clock every load process shares on this machine.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import select
import time

import orjson

from .wire import Subscriber, open_subscriber

PING = orjson.dumps({"type": "ping"})


class SubscriberPool:
    def __init__(
        self, host: str, port: int, subscribers: list[tuple[int, str]], mode: str = "count",
        expect_initial: bool = True, heartbeat: float | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.plan = subscribers  # (user id, request path with query)
        self.mode = mode
        self.expect_initial = expect_initial
        self.heartbeat = heartbeat
        self.sockets: list[Subscriber] = []
        self.presence: list[tuple] = []
        self.typing: list[tuple] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.errors: list[str] = []
        self._tasks: list[asyncio.Task] = []
        self.recording = False  # `record` mode keeps events only while this is set (`record`)
        self.trace: list[tuple[float, int, int]] = []  # (time, pings, frames) each second

    def on_message(self, proto: Subscriber, payload: bytes) -> None:
        if proto.frames == 1 and self.expect_initial:
            self.counts["initial_state"] += 1
            if not payload.startswith(b'{"type":"initial_state"'):
                self._bad(f"first frame is not initial_state: {payload[:80]!r}")
            if not proto.first.done():  # cancelled if the connect phase gave up on it
                proto.first.set_result(None)
            return
        if self.mode == "record":
            self._record(proto, payload)
        elif self.mode == "count":
            self._sample(payload)

    def _sample(self, payload: bytes) -> None:
        self.counts["sampled"] += 1
        message = orjson.loads(payload)
        if not (isinstance(message, dict) and isinstance(message.get("data"), dict)
                and "user_id" in message["data"]):
            self._bad(f"not one event per frame: {payload[:120]!r}")

    def _record(self, proto: Subscriber, payload: bytes) -> None:
        now = time.monotonic()
        message = orjson.loads(payload)
        kind = message.get("type")
        self.counts[kind] += 1
        data = message.get("data")
        if not self.recording:
            if kind == "error":
                self._bad(f"error frame: {payload[:200]!r}")
        elif kind == "presence_update":
            self.presence.append((proto.tag, data["user_id"], data["status"], now))
        elif kind == "typing_update":
            self.typing.append(
                (proto.tag, data["user_id"], data["conversation_id"], data["is_typing"], now)
            )
        elif kind == "error":
            self._bad(f"error frame: {payload[:200]!r}")

    def _bad(self, text: str) -> None:
        self.counts["bad"] += 1
        if len(self.errors) < 20:
            self.errors.append(text)

    async def connect(self, concurrency: int = 64, timeout: float = 120.0) -> dict:
        """Open every planned socket (bounded concurrency); wait for each initial_state.

        Past `timeout` the sockets not yet open are given up and counted as failed, so a
        server that slows down as it fills still ends the phase on time.
        """
        started = time.monotonic()
        gate = asyncio.Semaphore(concurrency)
        statuses: collections.Counter[int] = collections.Counter()

        async def one(user_id: int, path: str) -> None:
            async with gate:
                try:
                    proto = await asyncio.wait_for(self._open(user_id, path), 30)
                    statuses[101] += 1
                    self.sockets.append(proto)
                except Exception as exc:
                    status = getattr(exc, "status", None)
                    statuses[status or type(exc).__name__] += 1

        tasks = [asyncio.create_task(one(u, p)) for u, p in self.plan]
        _, late = await asyncio.wait(tasks, timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=10)
            statuses["gave up (connect phase timed out)"] += len(late)
        if self.heartbeat:
            self._tasks.append(asyncio.create_task(self._heartbeats()))
        if self.mode != "record":
            self._tasks.append(asyncio.create_task(self._sweep()))
        return {
            "connected": statuses[101], "failed": sum(statuses.values()) - statuses[101],
            "statuses": {str(k): v for k, v in statuses.items()},
            "seconds": time.monotonic() - started,
        }

    async def _open(self, user_id: int, path: str) -> Subscriber:
        proto = await open_subscriber(self.host, self.port, path, self.on_message)
        proto.tag = user_id
        proto.count_only = self.mode != "record"
        try:
            status = await proto.opened
            if status != 101:
                raise _Rejected(status)
            if self.expect_initial:
                await proto.first
        except BaseException:
            proto.transport.close()
            raise
        return proto

    async def _heartbeats(self) -> None:
        """Send an application ping from every socket once per interval, spread evenly."""
        tick, i, due = 0.1, 0, 0.0
        while True:
            n = len(self.sockets)
            due += n * tick / self.heartbeat
            while due >= 1 and n:
                self.sockets[i % n].send_text(PING)
                i += 1
                due -= 1
                self.counts["pings_sent"] += 1
            await asyncio.sleep(tick)

    async def _sweep(self, period: float = 0.02) -> None:
        """Read every socket in batches, `period` apart, instead of on every arrival.

        A subscriber that only counts need not read each ~100-byte frame the moment it
        lands: reading what accumulated over 20 ms takes several frames per syscall and
        keeps the load core from being the bottleneck of the fan-out measurement.
        """
        poller = select.epoll()
        by_fd = {}
        for proto in self.sockets:
            proto.transport.pause_reading()
            fd = proto.transport.get_extra_info("socket").fileno()
            by_fd[fd] = proto
            poller.register(fd, select.EPOLLIN)
        try:
            while by_fd:
                await asyncio.sleep(period)
                for fd, _ in poller.poll(0):
                    proto = by_fd[fd]
                    try:
                        data = os.read(fd, 1 << 18)
                    except OSError:
                        data = b""
                    if data:
                        proto.data_received(data)
                    else:
                        poller.unregister(fd)
                        del by_fd[fd]
                        proto.connection_lost(None)
        finally:
            poller.close()

    def frames(self) -> int:
        return sum(s.frames for s in self.sockets)

    async def record(self, on: bool) -> float:
        """Start (or stop) keeping events in `record` mode; returns the time it switched.

        A long run records only the windows it measures, so the pool's memory stays
        bounded; events of a window are taken (and forgotten) by `results`.
        """
        self.recording = on
        if on and not any(t.get_name() == "trace" for t in self._tasks):
            self._tasks.append(asyncio.create_task(self._trace(), name="trace"))
        return time.monotonic()

    async def recorded(self) -> int:
        """Events kept so far in this window (to tell when deliveries have stopped)."""
        return len(self.presence) + len(self.typing)

    async def _trace(self) -> None:
        """Once a second: protocol pings and frames received so far (hypercorn pings in step?)."""
        while True:
            self.trace.append((time.monotonic(), sum(s.pings for s in self.sockets),
                               self.frames()))
            await asyncio.sleep(1.0)

    async def measure(self, warmup: float, duration: float) -> dict:
        """Frames received by all sockets over `duration`, after `warmup`."""
        await asyncio.sleep(warmup)
        f0, c0, t0 = self.frames(), time.process_time(), time.monotonic()
        await asyncio.sleep(duration)
        f1, c1, t1 = self.frames(), time.process_time(), time.monotonic()
        return {"frames": f1 - f0, "seconds": t1 - t0, "cpu": (c1 - c0) / (t1 - t0)}

    async def churn(self, rate: float, duration: float, statuses: list[str]) -> dict:
        """Each socket in turn sends a status message, `rate` per second for `duration`."""
        frames = [orjson.dumps({"type": "status", "status": s}) for s in statuses]
        sent: dict[int, list[tuple[float, str]]] = collections.defaultdict(list)
        nth: collections.Counter[int] = collections.Counter()
        tick, i, due, step = 0.01, 0, 0.0, 0
        start = time.monotonic()
        while time.monotonic() - start < duration:
            due += rate * tick
            while due >= 1 and self.sockets:
                proto = self.sockets[i % len(self.sockets)]
                k = nth[proto.tag] % len(frames)
                nth[proto.tag] += 1
                proto.send_text(frames[k])
                sent[proto.tag].append((time.monotonic(), statuses[k]))
                i += 1
                due -= 1
            step += 1
            await asyncio.sleep(max(0.0, start + step * tick - time.monotonic()))
        return {"sent": dict(sent), "count": i, "seconds": time.monotonic() - start}

    async def results(self) -> dict:
        open_now = sum(1 for s in self.sockets if not s.closed.done())
        codes = collections.Counter(s.closed.result() for s in self.sockets if s.closed.done())
        presence, typing, trace = self.presence, self.typing, self.trace
        self.presence, self.typing, self.trace = [], [], []
        return {
            "open": open_now, "closed": {str(k): v for k, v in codes.items()},
            "absent": sorted(self._absent()),
            "counts": dict(self.counts), "errors": self.errors,
            "presence": presence, "typing": typing, "frames": self.frames(), "trace": trace,
        }

    def _absent(self) -> set:
        """Tags of planned sockets that never opened or have closed: they cannot receive."""
        live = {s.tag for s in self.sockets if not s.closed.done()}
        return {tag for tag, _ in self.plan} - live

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for proto in self.sockets:
            proto.close()
        with contextlib.suppress(Exception):
            await asyncio.sleep(0.2)


class _Rejected(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"upgrade rejected with HTTP {status}")
        self.status = status
