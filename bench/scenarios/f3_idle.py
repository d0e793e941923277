"""F3 idle sockets: N authenticated subscribers held open; server RSS per socket.

Each user is alone in the directory (sees only themself); sockets answer protocol pings
and send an application ping every 30 s, as a live client would. RSS is read with psutil
on the server pid after start-up (before) and at the end of the hold (with sockets). The
server needs one descriptor per socket, so N is capped by the server's socket capacity
(`presence_sockets_capacity`: its fd limit less a reserve; beyond it, upgrades are 503).
`python -m bench.socket_memory` breaks the same per-socket figure down with tracemalloc.
"""

from __future__ import annotations

import resource
import time

from .. import directories, servers, tokens
from ..workers import Worker
from . import Context, Row

TARGET_BYTES = 25 * 1024
PER_PROCESS = 9_000
CONNECT_SECONDS = 180  # a server that slows as it fills ends the ramp here, not the run


def run(ctx: Context) -> Row:
    s = ctx.scale
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    url = f"sqlite:///{ctx.workdir / 'f3.db'}"
    log = ctx.workdir / "f3.log"
    wanted = s.f3_sockets
    servers.import_directory(url, directories.write(directories.isolated(wanted),
                                                    ctx.workdir / "f3.json"), log)
    service = servers.Service(url, log)
    pools: list[Worker] = []
    try:
        time.sleep(1.0)
        base_fds = service.ps.num_fds()
        capacity = int(service.metrics().get("presence_sockets_capacity", wanted))
        n = min(wanted, hard - base_fds - 64, capacity)
        rss0 = service.rss()
        users = list(range(1, n + 1))
        chunks = [users[i : i + PER_PROCESS] for i in range(0, n, PER_PROCESS)]
        for chunk in chunks:
            pools.append(Worker(
                "bench.pool.SubscriberPool", host=service.host, port=service.port,
                subscribers=[(u, tokens.subscribe_path(u)) for u in chunk],
                mode="idle", heartbeat=30.0 if not s.quick else 1.0,
            ))
        ctx.say(f"F3: connecting {n} sockets (fd hard limit {hard}, server base {base_fds} fds)")
        t0 = time.monotonic()
        for pool in pools:
            pool.send("connect", concurrency=100, timeout=CONNECT_SECONDS)
        connected = [pool.recv(wait=CONNECT_SECONDS + 60) for pool in pools]
        ramp = time.monotonic() - t0
        ok = sum(c["connected"] for c in connected)
        ctx.say(f"F3: {ok} connected in {ramp:.0f} s; holding {s.f3_seconds:.0f} s")
        rss_connected = service.rss()
        peak = rss_connected
        deadline = time.monotonic() + s.f3_seconds
        while time.monotonic() < deadline:
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
            peak = max(peak, service.rss())
        rss1 = service.rss()
        fds = service.ps.num_fds()
        results = [pool.call("results") for pool in pools]
    finally:
        for pool in pools:
            pool.stop()
        service.stop()
    still_open = sum(r["open"] for r in results)
    closed = sum(sum(r["closed"].values()) for r in results)
    failed = sum(c["failed"] for c in connected)
    why: dict[str, int] = {}
    for c in connected:
        for status, count in c["statuses"].items():
            if status != "101":
                why[status] = why.get(status, 0) + count
    per_socket = (rss1 - rss0) / max(1, still_open)
    met = per_socket < TARGET_BYTES and still_open == n and n == wanted
    capped = "" if n == wanted else (f" (capped from {wanted}: fd hard limit {hard}, "
                                     f"server socket capacity {capacity})")
    return Row(
        "F3 idle sockets",
        f"{per_socket / 1024:.1f} KB/socket at {still_open} sockets",
        f"< {TARGET_BYTES // 1024} KB/socket at {wanted}",
        (per_socket < TARGET_BYTES and still_open == n) if n != wanted else met,
        f"RSS {rss0 / 2**20:.0f} -> {rss1 / 2**20:.0f} MiB (peak {peak / 2**20:.0f}) over "
        f"{s.f3_seconds:.0f} s hold{capped}; connect ramp {ramp:.0f} s "
        f"({ok / max(ramp, 1e-9):.0f}/s); failed {failed} {why or ''}; closed {closed}; "
        f"server fds {fds}",
        {"per_socket": per_socket, "sockets": still_open, "wanted": wanted,
         "errors": n - still_open, "lost": 0, "failed": why, "rss0": rss0, "rss1": rss1,
         "ramp": ramp},
    )
