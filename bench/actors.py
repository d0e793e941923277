"""F5 in-process: `python -m bench.actors N` starts N live user actors, prints JSON.

No HTTP: the runtime is opened with a MemoryStore holding an N-user directory, and N users
are each given a live `online` device through `PresenceService.set_status` (16 callers at
once). RSS (psutil) is read before and after; a second, smaller run under tracemalloc
gives Python-heap bytes per actor, with the store's own rows counted apart.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import tracemalloc

import psutil
import trio

from presence_actors import DirectoryData, MemoryStore, PresenceStatus, Timing, open_presence

CALLERS = 16


async def start_actors(n: int, hold) -> dict:
    store = MemoryStore(DirectoryData(users={i: f"u{i}" for i in range(1, n + 1)}))
    timing = Timing(status_min_interval=0, online_ttl=3600, mailbox_size=256)
    async with open_presence(store, timing) as service:
        gc.collect()
        before = hold.before()
        t0 = time.perf_counter()

        async def caller(k: int) -> None:
            for uid in range(1 + k, n + 1, CALLERS):
                await service.set_status(uid, "bench", PresenceStatus.ONLINE)

        async with trio.open_nursery() as nursery:
            for k in range(CALLERS):
                nursery.start_soon(caller, k)
        seconds = time.perf_counter() - t0
        await trio.sleep(0.1)
        gc.collect()
        after = hold.after(store)
        live = service.statistics().user_actors
    return {"n": n, "live": live, "seconds": seconds, **before, **after}


class Rss:
    def before(self) -> dict:
        return {"rss0": psutil.Process().memory_info().rss}

    def after(self, store) -> dict:
        return {"rss1": psutil.Process().memory_info().rss}


class Traced:
    def before(self) -> dict:
        tracemalloc.start()
        self.snap = tracemalloc.take_snapshot()
        return {}

    def after(self, store) -> dict:
        snap = tracemalloc.take_snapshot()
        tracemalloc.stop()
        total = sum(s.size_diff for s in snap.compare_to(self.snap, "filename"))
        store_rows = sum(
            s.size_diff for s in snap.compare_to(self.snap, "filename")
            if s.traceback[0].filename.endswith(("ports.py", "model.py"))
        )
        return {"traced": total, "traced_store": store_rows}


def main(n: int) -> dict:
    rss = trio.run(start_actors, n, Rss())
    traced = trio.run(start_actors, min(n, 20_000), Traced())
    return {"rss": rss, "traced": traced}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
