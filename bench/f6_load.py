"""F6's load process: status changes driven on one node, watched on another.

    python -m bench.f6_load '{"drive": [host, port], "watch": [host, port], "drivers": 200,
                              "watchers": 4, "rate": 1000, "warmup": 2, "seconds": 10,
                              "secret": "..."}'

Driver users 1..D each hold a WebSocket on the `drive` node and alternate their status
(`{"type": "status"}` frames, paced to `rate` changes/s in total, round robin), so every
frame changes that user's aggregate. Watchers D+1..D+W, partners of every driver, hold a
WebSocket on the `watch` node. The propagation delay of a change is the time from just
before its frame is written to its `presence_update` reaching a watcher (monotonic clock,
one process). It prints `window-start` / `window-end` as the measured window begins and
ends (the parent samples the servers then). A delay is matched by (user, status), so it
is unambiguous while it stays under a user's change period (drivers / rate). Prints one
JSON line last: changes sent, updates received, p50/p99/max delay over the measured
window, `lost` (watcher, driver) pairs whose last update is not the driver's last status
10 s after the end, and the load process's own CPU seconds.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

import orjson

from . import tokens
from .drivers import percentiles
from .wire import open_subscriber

# Lines on stdout before the result: the measured window starts / has ended (its last
# changes delivered, give or take the tail), so the parent measures the servers' CPU and
# deliveries over the steady load, not over 1,000 sockets connecting.
WINDOW_START, WINDOW_END = "window-start", "window-end"
FRAMES = {s: orjson.dumps({"type": "status", "status": s}) for s in ("online", "away")}


async def run(spec: dict) -> dict:
    drivers, watchers = spec["drivers"], spec["watchers"]
    sent: dict[tuple[int, str], tuple[float, bool]] = {}  # -> (sent at, in the window)
    delays: list[float] = []
    counts = {"received": 0, "unmatched": 0, "sent": 0, "measured_sent": 0}
    measuring = [False]

    seen: dict[tuple[int, int], str] = {}  # (watcher, driver) -> the last status it got
    matched: dict[tuple[int, int], float] = {}  # (watcher, driver) -> the send it matched

    def on_watch(proto, payload: bytes) -> None:
        message = orjson.loads(payload)
        if message.get("type") != "presence_update":
            return
        data = message["data"]
        seen[(proto.tag, data["user_id"])] = data["status"]
        change = sent.get((data["user_id"], data["status"]))
        counts["received"] += 1
        if change is None or matched.get((proto.tag, data["user_id"])) == change[0]:
            counts["unmatched"] += 1  # a connect's own update, or a repeat
        else:
            matched[(proto.tag, data["user_id"])] = change[0]
            if change[1]:  # sent in the measured window: measured however late it comes
                delays.append(time.monotonic() - change[0])

    def ignore(_proto, _payload: bytes) -> None:
        pass

    host, port = spec["watch"]
    secret = spec["secret"]
    watching = [await _open(host, port, uid, "f6-watch", on_watch, secret)
                for uid in range(drivers + 1, drivers + watchers + 1)]
    for proto, uid in zip(watching, range(drivers + 1, drivers + watchers + 1), strict=True):
        proto.tag = uid
    host, port = spec["drive"]
    driving = [await _open(host, port, uid, "f6-drive", ignore, secret)
               for uid in range(1, drivers + 1)]
    await asyncio.sleep(1.0)  # the connects' own online updates arrive before any change
    status = {uid: "online" for uid in range(1, drivers + 1)}  # a connect made them online
    tick = 0.01
    per_tick = spec["rate"] * tick
    start = time.monotonic()
    end_warmup, end = start + spec["warmup"], start + spec["warmup"] + spec["seconds"]
    cpu0 = _cpu()
    owed, i = 0.0, 0
    next_tick = start
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if not measuring[0] and now >= end_warmup:
            measuring[0] = True
            cpu0 = _cpu()
            print(WINDOW_START, flush=True)  # the parent samples the servers' CPU now
        owed += per_tick
        while owed >= 1:
            owed -= 1
            uid = i % drivers + 1
            i += 1
            status[uid] = "away" if status[uid] == "online" else "online"
            sent[(uid, status[uid])] = (time.monotonic(), measuring[0])
            driving[uid - 1].send_text(FRAMES[status[uid]])
            counts["sent"] += 1
            if measuring[0]:
                counts["measured_sent"] += 1
        next_tick += tick
        await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
    measuring[0] = False
    cpu = _cpu() - cpu0
    done_sending = time.monotonic()
    await asyncio.sleep(min(1.0, spec["seconds"] / 10))  # the window's last changes land
    print(WINDOW_END, flush=True)
    # Nothing lost: every watcher ends with every driver's last status (updates in between
    # may be coalesced by a slow socket's outbox, SPEC §8). Late updates count here.
    pairs = [(w, d) for w in range(drivers + 1, drivers + watchers + 1)
             for d in range(1, drivers + 1)]
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        lost = sum(seen.get(pair) != status[pair[1]] for pair in pairs)
        if not lost:
            break
        await asyncio.sleep(0.1)
    drained = time.monotonic() - done_sending  # how long the last updates took to arrive
    for proto in watching + driving:
        proto.close()
    return {**counts, **percentiles(delays, (50, 99)), "max": max(delays, default=None),
            "delays": len(delays), "drained": drained, "seconds": spec["seconds"],
            "load_cpu": cpu, "lost": lost}


async def _open(host: str, port: int, uid: int, device: str, on_message, secret: str):
    path = tokens.subscribe_path(uid, device, secret)
    proto = await open_subscriber(host, port, path, on_message)
    if await asyncio.wait_for(proto.opened, 30) != 101:
        raise RuntimeError(f"user {uid}: upgrade refused")
    return proto


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(json.loads(sys.argv[1])))), flush=True)
