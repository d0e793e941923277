"""F4 storage: distinct users' status changes into Postgres; flush lag and final equality.

Users 2..n+1 each hold a socket and send `{"type": "status"}` alternately away/online
(rate limit off); user 1 sees everyone and is only used to read the in-memory state
through the API at the end. A poller reads `user_presence` every 0.2 s: a change counts
as flushed at the first poll whose row shows it or a later change of the same user
(write-behind coalesces), so flush lag is measured to within the poll period. The
database is created for the run and dropped after it.
"""

from __future__ import annotations

import bisect
import http.client
import os
import subprocess
import time

import orjson

from .. import directories, profiling, servers, tokens
from ..drivers import percentiles
from ..workers import Worker
from . import Context, Row

TARGET_P99 = 2.0
PG = "postgresql://postgres@127.0.0.1:5432"
STATUSES = ["away", "online"]


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1",
                    "-q", "-c", sql], check=True, timeout=60, capture_output=True)


def flush_lags(sent: dict, observed: dict) -> tuple[list[float], int]:
    """Lag of every change, and how many were never seen in the table."""
    lags, missing = [], 0
    for uid, sends in sent.items():
        times = [t for t, _ in sends]
        j = 0
        for poll, status in observed.get(uid, []):
            k = bisect.bisect_right(times, poll) - 1
            while k >= j and sends[k][1] != status:
                k -= 1
            if k >= j:
                lags += [poll - times[m] for m in range(j, k + 1)]
                j = k + 1
        missing += len(sends) - j
    return lags, missing


def memory_state(service: servers.Service, n: int, budget: float = 120.0) -> dict:
    """Every user's presence as the API shows it to the observer; all reads within `budget`."""
    headers = {"Authorization": f"Bearer {tokens.token(1)}"}
    state = {}
    deadline = time.monotonic() + budget
    for lo in range(2, n + 2, 500):
        ids = ",".join(str(i) for i in range(lo, min(lo + 500, n + 2)))
        for attempt in range(3):  # a saturated server may drop a read; try again, bounded
            left = deadline - time.monotonic()
            if left <= 1:
                raise RuntimeError(f"reads took over {budget:.0f} s")
            try:
                status, body = service.get(f"/api/presence/users?user_ids={ids}", headers,
                                           min(60.0, left))
            except (OSError, http.client.HTTPException) as exc:
                status, body = 0, repr(exc).encode()
            if status == 200:
                break
            time.sleep(2.0 * (attempt + 1))
        else:
            raise RuntimeError(f"GET /api/presence/users: {status} {body[:200]!r}")
        for item in orjson.loads(body):
            state[item["user_id"]] = (item["status"], item["last_seen"])
    return state


def run(ctx: Context) -> Row:
    s = ctx.scale
    n, rate, seconds = s.f4_users, s.f4_rate, s.f4_seconds
    db = f"presence_bench_{os.getpid()}"
    url = f"{PG}/{db}"
    log = ctx.workdir / "f4.log"
    psql(f"DROP DATABASE IF EXISTS {db}")
    psql(f"CREATE DATABASE {db}")
    service = pool = poller = None
    try:
        servers.import_directory(url, directories.write(directories.observed(n),
                                                        ctx.workdir / "f4.json"), log)
        service = servers.Service(url, log, status_min_interval=0, user_status_burst=1_000_000)
        pool = Worker("bench.pool.SubscriberPool", host=service.host, port=service.port,
                      subscribers=[(u, tokens.subscribe_path(u)) for u in range(2, n + 2)],
                      mode="idle")  # no app pings: they move last_seen while we compare
        poller = Worker("bench.dbpoll.Poller", dsn=url)
        connected = pool.call("connect", wait=180, concurrency=100, timeout=120)
        ctx.say(f"F4: {connected['connected']} sockets in {connected['seconds']:.0f} s; "
                f"{rate:.0f} changes/s for {seconds:.0f} s")
        settle = 6.0
        pushes0, cpu0 = _pushes(service), service.cpu_seconds()
        poller.send("watch", duration=seconds + settle, period=0.2)
        out = ctx.profile_dir / "f4.txt" if ctx.profile_dir else None
        sampler = profiling.start(service.ps.pid, seconds, out) if out else None
        churn = pool.call("churn", wait=seconds + 120, rate=rate, duration=seconds,
                          statuses=STATUSES)
        if out:
            ctx.say("F4 profile:\n" + profiling.finish(sampler, out, top=15))
        pushes = _pushes(service) - pushes0  # first: the CPU read after it covers them all
        cpu_seconds = service.cpu_seconds() - cpu0
        cpu = cpu_seconds / churn["seconds"]
        watched = poller.recv(wait=settle + 120)
        metrics = {k: v for k, v in service.metrics().items() if "storage" in k}
        try:
            memory, unreadable = memory_state(service, n), ""
        except RuntimeError as exc:
            memory, unreadable = {}, f"; in-memory state unreadable: {exc}"[:200]
        rows = poller.call("snapshot")
        results = pool.call("results")
    finally:
        for worker in (pool, poller):
            if worker is not None:
                worker.stop()
        if service is not None:
            service.stop()
        psql(f"DROP DATABASE IF EXISTS {db}")
    sent = {int(k): v for k, v in churn["sent"].items()}
    lags, missing = flush_lags(sent, watched["changes"])
    p = percentiles(lags)
    mismatched = sum(1 for uid, row in memory.items() if rows.get(uid) != row) + (n - len(memory))
    last_sent = {uid: sends[-1][1] for uid, sends in sent.items()}
    stale = sum(1 for uid, status in last_sent.items() if memory.get(uid, ("?",))[0] != status)
    achieved = churn["count"] / churn["seconds"]
    echoed = results["frames"] - connected["connected"]  # each accepted change comes back
    errors = connected["failed"] + (n - results["open"]) + results["counts"].get("bad", 0)
    met = (p["p99"] is not None and p["p99"] < TARGET_P99 and mismatched == 0 and missing == 0
           and errors == 0 and achieved >= 0.95 * rate and echoed >= 0.95 * churn["count"])
    return Row(
        "F4 storage",
        f"flush lag p99 {p['p99'] if p['p99'] is not None else float('nan'):.2f} s; "
        f"rows == memory: {mismatched == 0 and len(memory) == n}",
        f"p99 < {TARGET_P99:.0f} s at {rate:.0f}/s; rows == memory",
        met,
        f"{achieved:.0f} changes/s offered over {churn['seconds']:.0f} s to {n} users "
        f"({echoed} echoed back by the end); lag p50 "
        f"{p['p50'] if p['p50'] is not None else float('nan'):.2f} s (poll 0.2 s, "
        f"{watched['queries']} polls, slowest {watched['slowest']:.2f} s); never "
        f"flushed {missing}; rows != memory {mismatched}; memory != last sent {stale}; "
        f"server cpu {cpu:.0%} ({pushes:.0f} changes accepted); errors {errors}; "
        f"storage metrics {_short(metrics)}{unreadable}",
        {"p99": p["p99"], "missing": missing, "mismatched": mismatched, "stale": stale,
         # Lost: a user whose final row differs from the server's memory. A change that no
         # poll saw before the watch ended ("missing") is late, not lost, when the final
         # rows match: it counts against the lag target (met), not here.
         "errors": errors, "lost": mismatched, "achieved": achieved, "echoed": echoed,
         "metrics": metrics, "accepted": pushes,
         # Every accepted change (away <-> online) changes the aggregate: one push each. Under
         # saturation this is the comparable figure; the backlog left at the end is not in it.
         "cpu_per_op": {"change": 1e6 * cpu_seconds / pushes} if pushes else {}},
    )


def _pushes(service: servers.Service) -> float:
    return service.metrics().get('presence_pushes_total{type="presence_update"}', 0.0)


def _short(metrics: dict) -> str:
    keep = {k.replace("presence_storage_", ""): v for k, v in metrics.items()
            if any(w in k for w in ("pending", "flush", "fail", "lag", "timeouts", "stall"))}
    return ", ".join(f"{k}={v:g}" for k, v in sorted(keep.items())[:10]) or "-"
