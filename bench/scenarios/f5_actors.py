"""F5 actors: N live user actors in one process (no HTTP), memory per actor and start rate.

Runs `python -m bench.actors N` as a subprocess pinned to the server core, so the
numbers are those of a fresh interpreter holding nothing but the runtime.
"""

from __future__ import annotations

import json
import subprocess
import sys

from .. import machine, servers
from . import Context, Row

TARGET_BYTES = 4 * 1024


def run(ctx: Context) -> Row:
    n = ctx.scale.f5_actors
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.actors", str(n)], cwd=servers.ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=machine.pinned_to(machine.SERVER_CORE),
    )
    try:
        out, err = process.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"bench.actors exited {process.returncode}: {err[-500:]}")
    result = json.loads(out)
    rss, traced = result["rss"], result["traced"]
    per_rss = (rss["rss1"] - rss["rss0"]) / rss["n"]
    per_traced = traced["traced"] / traced["n"]
    store = traced["traced_store"] / traced["n"]
    rate = rss["n"] / rss["seconds"]
    errors = (rss["n"] - rss["live"]) + (traced["n"] - traced["live"])
    return Row(
        "F5 actors",
        f"{per_rss / 1024:.1f} KB/actor RSS ({per_traced / 1024:.1f} KB traced), "
        f"{rate:,.0f} starts/s",
        f"< {TARGET_BYTES // 1024} KB/actor at {n:,}",
        per_rss < TARGET_BYTES and errors == 0,
        f"{rss['live']:,} live actors; RSS {rss['rss0'] / 2**20:.0f} -> {rss['rss1'] / 2**20:.0f} "
        f"MiB; tracemalloc over {traced['n']:,} actors, of which MemoryStore rows "
        f"{store:.0f} B/actor; errors {errors}",
        {"per_rss": per_rss, "per_traced": per_traced, "rate": rate, "errors": errors,
         "lost": 0},
    )
