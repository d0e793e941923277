"""F7 soak: the F2 mix on 5,000 sockets for 30 minutes; start and end compared.

Same rig and accounting as F2 (`f2_mix.MixRun`), at F2's per-user rates (so 200 POST/s
for 5,000 users: a load the node should hold), into Postgres (the production store; a
database created for the run and dropped after it). Users cycle away/online and typing
pairs repeat, so every key changes many times. Two windows are measured, the first and
the last `f7_window` seconds of the load: delivery and POST p99, lost and coalesced
frames, server CPU, RSS and the store's counters from `/metrics` (sampled every 10 s
through the whole run). Only the windows' frames are kept, so the pool's memory does not
grow with the run. A leak shows as RSS still rising in the last window; a drift as the
end's p99 or flush lag above the start's.
"""

from __future__ import annotations

import os
import time

from ..drivers import percentiles
from . import Context, Row
from .f2_mix import TYPING_TTL, MixRun, account, schedule
from .f4_storage import PG, psql

QUIET = 30.0  # a key changed this soon before the end window starts is left out of it
DRAIN = TYPING_TTL + 3.0
LATE = 30.0  # the first window keeps recording this long past its end for late frames


def run(ctx: Context) -> Row:
    s = ctx.scale
    n, seconds = s.f7_users, s.f7_minutes * 60
    window = min(s.f7_window, (seconds - LATE) / 2)  # the windows never overlap
    events = schedule(n, s.f7_status_rate, s.f7_typing_rate, seconds, seed=7)
    db = f"presence_soak_{os.getpid()}"
    psql(f"DROP DATABASE IF EXISTS {db}")
    psql(f"CREATE DATABASE {db}")
    try:
        with MixRun(ctx, "f7", n, s.f7_contacts, s.f7_heartbeat, f"{PG}/{db}") as mix:
            idle = mix.baseline(2.0 if s.quick else 10.0)
            soak = Soak(mix, seconds, window)
            driven = soak.drive(events)
            windows = soak.windows(driven, n, s.f7_contacts)
            closing = mix.closing()
    finally:
        psql(f"DROP DATABASE IF EXISTS {db}")
    return row(f"{n} users x {s.f7_contacts} contacts", s.f7_minutes, driven, windows, idle,
               closing)


class Soak:
    """Drives the schedule; records the first and last window; samples RSS and /metrics."""

    def __init__(self, mix: MixRun, seconds: float, window: float) -> None:
        self.mix, self.seconds, self.window = mix, seconds, window
        self.samples: list[dict] = []  # every 10 s: time, RSS, CPU seconds, store counters
        self.got: list[tuple[tuple[float, float], dict]] = []
        self.last_from = 0.0  # when the end window's recording began
        self.drained = 0.0  # how long the end window recorded past the last POST

    def drive(self, events: list) -> dict:
        mix = self.mix
        start = mix.pool.call("record", on=True)
        mix.driver.send("run", schedule=events, device="bench")
        phase, next_sample = 0, 0.0
        while not mix.driver.conn.poll(1.0):
            now = time.monotonic() - start
            if now >= next_sample:
                self.samples.append(self._sample())
                next_sample += min(10.0, self.window / 2)
            if phase == 0 and now >= self.window + LATE:
                self._take(start, start + self.window)
                phase = 1
            elif phase == 1 and now >= self.seconds - self.window:
                self.last_from = mix.pool.call("record", on=True)
                phase = 2
            if now > self.seconds + 600:
                raise RuntimeError("F7 driver did not finish in time")
        driven = mix.driver.recv(wait=5)
        self.drained = mix.wait_quiet(DRAIN)
        self.samples.append(self._sample())
        self._take(self.last_from, start + self.seconds)
        return driven

    def _take(self, t0: float, t1: float) -> None:
        self.mix.pool.call("record", on=False)
        self.got.append(((t0, t1), self.mix.pool.call("results", wait=300)))

    def _sample(self) -> dict:
        service = self.mix.service
        store = {k.removeprefix("presence_"): v for k, v in service.metrics().items()
                 if "storage" in k}
        return {"t": time.monotonic(), "rss": service.rss() / 2**20,
                "cpu": service.cpu_seconds(), "wait": self.mix.cpu_wait(), "store": store}

    def windows(self, driven: dict, n: int, contacts: int) -> list[dict]:
        out = []
        for k, ((t0, t1), got) in enumerate(self.got):
            tallies = account(driven["posts"], got, n, contacts, self.mix.members, (t0, t1),
                              min(QUIET, self.window) if k else 0.0)
            lat = [lag for t in tallies.values() for _, lag in t.latencies]
            posts = [p[6] for p in driven["posts"] if t0 <= p[4] <= t1 and p[6] is not None]
            inside = [x for x in self.samples if t0 <= x["t"] <= t1 + DRAIN]
            span = inside[-1]["t"] - inside[0]["t"] if len(inside) > 1 else 0.0
            cpu = (inside[-1]["cpu"] - inside[0]["cpu"]) / span if span else float("nan")
            wait = (inside[-1]["wait"] - inside[0]["wait"]) / span if span else float("nan")
            out.append({
                "p99": percentiles(lat)["p99"], "post_p99": percentiles(posts)["p99"],
                "lost": sum(t.lost for t in tallies.values()),
                "lost_before_end": max((t1 - x for t in tallies.values() for x in t.lost_at),
                                       default=None),
                "unexpected": sum(t.unexpected for t in tallies.values()),
                "coalesced": sum(t.coalesced for t in tallies.values()),
                "excluded": sum(t.excluded for t in tallies.values()),
                "delivered": sum(t.delivered for t in tallies.values()),
                "rss": [x["rss"] for x in inside], "cpu": cpu, "wait": wait,
                "post_us": 1e6 * cpu * (t1 - t0) / max(1, len(posts)),
                "store": inside[-1]["store"] if inside else {},
            })
        return out


def row(size: str, minutes: float, driven: dict, windows: list[dict], idle: float,
        closing: dict) -> Row:
    first, last = windows[0], windows[-1]
    lost = sum(w["lost"] for w in windows)
    unexpected = sum(w["unexpected"] for w in windows)
    errors = (sum(1 for p in driven["posts"] if not (p[5] == 200 or 400 <= p[5] < 500))
              + closing["failed"] + closing["bad"] + closing["closed"])
    rss0, rss1 = first["rss"][-1] if first["rss"] else 0, last["rss"][-1] if last["rss"] else 0
    drift = rss1 - rss0
    met = (lost == 0 and unexpected == 0 and errors == 0 and driven["skipped"] == 0
           and rss1 <= rss0 * 1.10 and _ok(first["p99"], last["p99"]))
    return Row(
        "F7 soak",
        f"RSS {rss0:.0f} -> {rss1:.0f} MiB; delivery p99 {_ms(first['p99'])} -> "
        f"{_ms(last['p99'])}; POST p99 {_ms(first['post_p99'])} -> {_ms(last['post_p99'])}; "
        f"lost {lost}",
        "end RSS <= start + 10 %, end p99 <= 2x start (+10 ms), 0 lost, 0 errors",
        met,
        f"{size}, {minutes:g} min at {len(driven['posts']) / driven['seconds']:.0f} POST/s; first "
        f"vs last window: {_window(first)} | {_window(last)}; server errors {errors}, driver "
        f"skipped {driven['skipped']}, late p99 {_ms(driven['late']['p99'])}; idle CPU "
        f"{idle:.0%}; RSS drift {drift:+.0f} MiB ({60 * drift / max(1.0, minutes * 60):+.1f} "
        "MiB/min)",
        {"errors": errors, "lost": lost, "unexpected": unexpected, "windows": windows,
         "cpu_per_op": {"POST (incl. fan-out), start": first["post_us"],
                        "POST (incl. fan-out), end": last["post_us"]},
         "skipped": driven["skipped"], "rss_start": rss0, "rss_end": rss1},
    )


def _ok(p99_start: float | None, p99_end: float | None) -> bool:
    return p99_start is not None and p99_end is not None and p99_end <= 2 * p99_start + 0.010


def _window(w: dict) -> str:
    store = ", ".join(f"{k.removeprefix('storage_')} {v:g}" for k, v in sorted(w["store"].items())
                      if any(x in k for x in ("lag", "pending", "last_flush", "failed")))
    return (f"p99 {_ms(w['p99'])}, POST p99 {_ms(w['post_p99'])}, CPU {w['cpu']:.0%} "
            f"(waited for a CPU {w['wait']:.0%}), "
            f"delivered {w['delivered']}, coalesced {w['coalesced']}, lost {w['lost']}"
            + (f" (all sent in the window's last {w['lost_before_end']:.0f} s)"
               if w["lost_before_end"] is not None else "") + ", "
            f"unexpected {w['unexpected']}, keys left out {w['excluded']}, RSS "
            f"{min(w['rss'], default=0):.0f}-{max(w['rss'], default=0):.0f} MiB, "
            f"store: {store or '-'}")


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"
