"""Load-process roles that change presence: the F1 status flipper and the F2 mix.

Send times are `time.monotonic()` taken just before the request is written, the clock the
subscriber processes stamp receptions with.
"""

from __future__ import annotations

import asyncio
import collections
import time

import orjson

from . import tokens
from .wire import HttpConnection, open_subscriber

STATUS = [orjson.dumps({"status": s}) for s in ("online", "away")]
STATUS_OF = {s: orjson.dumps({"status": s}) for s in ("online", "away", "offline")}
TYPING = {flag: orjson.dumps({"is_typing": flag}) for flag in (True, False)}


def percentiles(values: list[float], points=(50, 99)) -> dict[str, float | None]:
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for p in points:
        index = min(len(ordered) - 1, int(len(ordered) * p / 100))
        out[f"p{p}"] = ordered[index] if ordered else None
    return out


class Flipper:
    """F1: one user's status, alternating online/away as fast as the server accepts."""

    def __init__(self, host: str, port: int, secret: str) -> None:
        self.host, self.port, self.secret = host, port, secret

    async def run_service(self, user_id: int, duration: float) -> dict:
        conn = HttpConnection(self.host, self.port)
        headers = tokens.auth(user_id, "flipper", self.secret)
        codes: collections.Counter[int] = collections.Counter()
        latencies = []
        i, start = 0, time.monotonic()
        while time.monotonic() - start < duration:
            sent = time.monotonic()
            status, _ = await conn.request("POST", "/api/presence/status", STATUS[i % 2], headers)
            latencies.append(time.monotonic() - sent)
            codes[status] += 1
            i += 1
        conn.close()
        return {"accepted": codes[200], "codes": dict(codes), "seconds": time.monotonic() - start,
                **percentiles(latencies)}

    async def run_reference(self, frames: list[bytes], duration: float, window: int = 4) -> dict:
        acks = asyncio.Queue()
        proto = await open_subscriber(
            self.host, self.port, "/publish", lambda _p, m: acks.put_nowait(m)
        )
        if await proto.opened != 101:
            raise RuntimeError("reference refused the publisher")
        sent = acked = 0
        start = time.monotonic()
        for _ in range(window):
            proto.send_text(frames[sent % len(frames)])
            sent += 1
        while time.monotonic() - start < duration:
            await asyncio.wait_for(acks.get(), 10)
            acked += 1
            proto.send_text(frames[sent % len(frames)])
            sent += 1
        proto.close()
        return {"accepted": acked, "codes": {}, "seconds": time.monotonic() - start}


class Mix:
    """F2/F7: status and typing POSTs on a fixed schedule (open loop), many connections.

    Every POST is kept as `[kind, user, conversation, value, send time, HTTP code, latency]`
    (code 0 and latency None: no answer, or none yet when the run ended), so the bench can
    tell what the server accepted. What the driver itself failed to do is kept apart from
    what the server did: `skipped` sends (the
    in-flight cap was reached because answers came slower than `max_connections / rate`)
    and `late` (how far behind its schedule each send went out: the load core's lag).
    """

    def __init__(self, host: str, port: int, secret: str, max_connections: int = 512) -> None:
        self.host, self.port, self.secret = host, port, secret
        self.free: list[HttpConnection] = []
        self.opened = 0
        self.max_connections = max_connections
        self.posts: list[list] = []
        self.late: list[float] = []
        self.skipped = 0

    async def _post(self, path: str, body: bytes, headers: dict, entry: list) -> None:
        """Send one POST; `entry[4:7]` become its send time, HTTP code and latency."""
        if self.free:
            conn = self.free.pop()
        else:
            self.opened += 1
            conn = HttpConnection(self.host, self.port)
        entry[4] = sent = time.monotonic()
        try:
            entry[5], _ = await conn.request("POST", path, body, headers)
        except (OSError, asyncio.IncompleteReadError):
            conn.close()
            self.opened -= 1
            return
        entry[6] = time.monotonic() - sent
        self.free.append(conn)

    async def _send(self, kind: str, user_id: int, conv: int, value, device: str) -> None:
        entry = [kind, user_id, conv, value, time.monotonic(), 0, None]  # code 0: no answer
        self.posts.append(entry)
        headers = tokens.auth(user_id, device, self.secret)
        if kind == "status":
            await self._post("/api/presence/status", STATUS_OF[value], headers, entry)
        else:
            await self._post(f"/api/conversations/{conv}/typing", TYPING[value], headers, entry)

    async def run(self, schedule: list[tuple], device: str = "bench") -> dict:
        """`schedule`: (offset s, "status"|"typing", user, conversation, value), any order."""
        tasks: set[asyncio.Task] = set()
        start = time.monotonic()
        for offset, kind, user_id, conv, value in sorted(schedule, key=lambda e: e[0]):
            delay = start + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.late.append(max(0.0, -delay))
            if len(tasks) >= self.max_connections:
                self.skipped += 1
                continue
            task = asyncio.create_task(self._send(kind, user_id, conv, value, device))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        for conn in self.free:
            conn.close()
        return {
            "posts": self.posts, "skipped": self.skipped, "start": start,
            "seconds": time.monotonic() - start, "late": percentiles(self.late, (50, 99, 100)),
            "unanswered": len(tasks), "connections": self.opened,
        }
