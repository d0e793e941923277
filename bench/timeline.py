"""Latency over time, one row a second, beside what the server was doing that second.

The tail of F2 comes in bursts, so a whole-run p99 cannot say what causes it. Each second
of the run gets the p99 of the deliveries and POSTs *sent* in it, the server's CPU, the
protocol pings the subscribers received, and (with `--profile`) the server-side events
`bench.probe` stamped on the same monotonic clock: gen-1/2 collections, deadline-heap
prunes, directory refreshes, run-loop passes that held the thread over 20 ms, and the
seconds the server's thread waited for a CPU other processes held.
`candidates` then asks, for each suspect, how often a slow second had it (this second or
the one before) against how often any second had it.
"""

from __future__ import annotations

import collections
import csv
import itertools
import math
from pathlib import Path

from .drivers import percentiles

COLUMNS = ("second", "posts", "post_p99_ms", "deliveries", "delivery_p99_ms", "lost", "cpu",
           "pings",
           "gc0_ms", "gc0_cpu_ms", "gc_ms", "gc_cpu_ms", "gc2", "directory_ms", "prune_ms",
           "prunes", "stall_max_ms", "stall_cpu_ms", "stalls", "loop_busy", "heap", "cpu_wait")
SLOW = 0.100  # a second whose deliveries' p99 is over the F2 target


def build(driven: dict, tallies: dict, samples: list, pool_trace: list,
          probe: list[list[str]]) -> list[dict]:
    t0 = driven["start"]
    rows: dict[int, dict] = collections.defaultdict(lambda: collections.defaultdict(float))
    lat: dict[int, list[float]] = collections.defaultdict(list)
    post: dict[int, list[float]] = collections.defaultdict(list)
    for p in driven["posts"]:
        k = int(p[4] - t0)
        rows[k]["posts"] += 1
        if p[6] is not None:
            post[k].append(p[6])
    for tally in tallies.values():
        for t, lag in tally.latencies:
            lat[int(t - t0)].append(lag)
        for t in tally.lost_at:
            rows[int(t - t0)]["lost"] += 1
    _diffs(rows, t0, samples, "cpu", 1)
    _diffs(rows, t0, [(t, pings) for t, pings, _ in pool_trace], "pings", 1)
    _probe(rows, t0, probe)
    out = []
    for k in range(0, max(rows, default=-1) + 1):
        row = rows[k]
        row["second"] = k
        row["deliveries"] = len(lat[k])
        row["delivery_p99_ms"] = _p99_ms(lat[k])
        row["post_p99_ms"] = _p99_ms(post[k])
        out.append({c: row.get(c, 0.0) for c in COLUMNS})
    return out


def _p99_ms(values: list[float]) -> float:
    p99 = percentiles(values)["p99"]
    return math.nan if p99 is None else 1000 * p99


def _diffs(rows: dict, t0: float, series: list, column: str, scale: float) -> None:
    for (ta, a), (tb, b) in itertools.pairwise(series):
        if tb > ta:
            rows[int(tb - t0)][column] += scale * (b - a) / (tb - ta)


def _probe(rows: dict, t0: float, events: list[list[str]]) -> None:
    for kind, t, seconds, *extra in events:
        k, ms = int(float(t) - t0), 1000 * float(seconds)
        row = rows[k]
        if kind == "gc":
            row["gc_ms"] += ms
            row["gc_cpu_ms"] += 1000 * float(extra[1]) if len(extra) > 1 else 0.0
            row["gc2"] += extra[0] == "2"
        elif kind == "directory":
            row["directory_ms"] += ms
        elif kind == "prune":
            row["prune_ms"] += ms
            row["prunes"] += 1
        elif kind in ("tick", "step"):
            if ms > row["stall_max_ms"]:
                row["stall_max_ms"] = ms
                row["stall_cpu_ms"] = 1000 * float(extra[1]) if len(extra) > 1 else math.nan
            row["stalls"] += kind == "tick"
        elif kind == "second":
            row["loop_busy"] = float(seconds)
            row["heap"] = float(extra[1])
            if len(extra) >= 7:
                row["cpu_wait"] = float(extra[4])
                row["gc0_ms"] += 1000 * float(extra[5])
                row["gc0_cpu_ms"] += 1000 * float(extra[7]) if len(extra) > 7 else 0.0


def write(trace: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, COLUMNS)
        writer.writeheader()
        for row in trace:
            writer.writerow({k: (f"{v:.1f}" if isinstance(v, float) else v)
                             for k, v in row.items()})


def worst(trace: list[dict], top: int = 8) -> str:
    rows = sorted((r for r in trace if not math.isnan(r["delivery_p99_ms"])),
                  key=lambda r: -r["delivery_p99_ms"])[:top]
    head = " ".join(f"{c:>9.9}" for c in COLUMNS)
    return "\n".join([head] + [" ".join(_cell(r[c]) for c in COLUMNS) for r in rows])


def _cell(value: float) -> str:
    return f"{value:>9.0f}" if abs(value) >= 10 or value == 0 else f"{value:>9.2f}"


def candidates(trace: list[dict]) -> str:
    """For each suspect: share of slow seconds with it (same or previous second) vs all."""
    measured = [r for r in trace if r["deliveries"]]
    slow = {r["second"] for r in measured if r["delivery_p99_ms"] > SLOW * 1000}
    pings = sorted(r["pings"] for r in measured) or [0]
    marks = {
        "a lost change": lambda r: r["lost"] > 0,
        "directory refresh": lambda r: r["directory_ms"] > 0,
        "gen-2 collection": lambda r: r["gc2"] > 0,
        "gc (gen 1-2) > 20 ms": lambda r: r["gc_ms"] > 20,
        "gen-0 gc > 100 ms in 1 s": lambda r: r["gc0_ms"] > 100,
        "deadline prune > 5 ms": lambda r: r["prune_ms"] > 5,
        "run-loop stall > 100 ms": lambda r: r["stall_max_ms"] > 100,
        "pings > 1.5x median": lambda r: r["pings"] > 1.5 * pings[len(pings) // 2],
        "server cpu > 95 %": lambda r: r["cpu"] > 0.95,
        "waited for a CPU > 20 %": lambda r: r["cpu_wait"] > 0.2,
    }
    by_second = {r["second"]: r for r in trace}
    lines = [f"{len(slow)} of {len(measured)} seconds had delivery p99 > {SLOW * 1000:.0f} ms"]
    for name, test in marks.items():
        hit = {r["second"] for r in trace if test(r)}
        near = hit | {k + 1 for k in hit}
        in_slow = len(slow & near)
        share = len({r["second"] for r in measured} & near) / max(1, len(measured))
        lines.append(f"  {name:<26} slow seconds with it: {in_slow}/{len(slow)}; "
                     f"all seconds with it: {share:.0%}")
    stalls = sorted((r["stall_max_ms"], r["second"]) for r in by_second.values())[-5:]
    lines.append("  longest stalls (ms, second): " + ", ".join(f"{m:.0f}@{k}" for m, k in stalls))
    return "\n".join(lines)
