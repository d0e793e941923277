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
    """F2: status changes and typing POSTs on a fixed schedule (open loop), many connections."""

    def __init__(self, host: str, port: int, secret: str, max_connections: int = 128) -> None:
        self.host, self.port, self.secret = host, port, secret
        self.free: list[HttpConnection] = []
        self.opened = 0
        self.max_connections = max_connections
        self.codes: collections.Counter = collections.Counter()
        self.latencies: list[float] = []
        self.status_sent: dict[int, float] = {}
        self.typing_sent: list[tuple[int, int, bool, float, int]] = []
        self.skipped = 0

    async def _post(self, path: str, body: bytes, headers: dict) -> tuple[float, int]:
        if self.free:
            conn = self.free.pop()
        else:
            self.opened += 1
            conn = HttpConnection(self.host, self.port)
        sent = time.monotonic()
        try:
            status, _ = await conn.request("POST", path, body, headers)
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.codes[type(exc).__name__] += 1
            conn.close()
            self.opened -= 1
            return sent, 0
        self.latencies.append(time.monotonic() - sent)
        self.codes[status] += 1
        self.free.append(conn)
        return sent, status

    async def _status(self, user_id: int, device: str) -> None:
        headers = tokens.auth(user_id, device, self.secret)
        sent, status = await self._post("/api/presence/status", STATUS[1], headers)
        if status == 200:
            self.status_sent[user_id] = sent

    async def _typing(self, user_id: int, device: str, conv: int, flag: bool) -> None:
        headers = tokens.auth(user_id, device, self.secret)
        path = f"/api/conversations/{conv}/typing"
        sent, status = await self._post(path, TYPING[flag], headers)
        self.typing_sent.append((user_id, conv, flag, sent, status))

    async def run(
        self, changes: list[int], typers: list[tuple[int, int]], status_rate: float,
        typing_rate: float, duration: float, device: str = "bench",
    ) -> dict:
        """`changes`: users who go away, in order; `typers`: (user, conversation) pairs.

        Typing is sent as pairs (true, then false one second later) so every POST changes
        state and none can expire first; `typing_rate` counts POSTs.
        """
        tasks: set[asyncio.Task] = set()
        events: list[tuple[float, object]] = []
        for k, uid in enumerate(changes[: int(status_rate * duration)]):
            events.append((k / status_rate, ("status", uid)))
        pair_rate = typing_rate / 2
        for k, (uid, conv) in enumerate(typers[: int(pair_rate * duration)]):
            events.append((k / pair_rate, ("typing", uid, conv, True)))
            events.append((k / pair_rate + 1.0, ("typing", uid, conv, False)))
        events.sort(key=lambda e: e[0])
        start = time.monotonic()
        for offset, event in events:
            delay = start + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(tasks) >= self.max_connections:
                self.skipped += 1
                continue
            coro = (self._status(event[1], device) if event[0] == "status"
                    else self._typing(event[1], device, event[2], event[3]))
            task = asyncio.create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        for conn in self.free:
            conn.close()
        return {
            "codes": {str(k): v for k, v in self.codes.items()}, "skipped": self.skipped,
            "seconds": time.monotonic() - start, "latencies": self.latencies,
            "status_sent": self.status_sent, "typing_sent": self.typing_sent,
            "connections": self.opened,
        }
