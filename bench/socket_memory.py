"""Where an idle socket's memory goes: `python -m bench.socket_memory [N] [--frames K]`.

Runs the service as F3 does (`presence-actors serve`, users alone in the directory) with
`tracemalloc` started in the server (a `sitecustomize` on its PYTHONPATH, `K` frames per
trace), opens N idle sockets, and compares snapshots taken (on SIGUSR1) before and after:
RSS and traced bytes per socket, then traced bytes per socket by layer (the innermost
frame of web/, presence_actors/, storage/, hypercorn, wsproto, h11 or Quart) and the
largest allocation sites. tracemalloc slows the server and inflates its RSS; the
per-socket RSS without it is F3's (`python -m bench --scenario F3`).
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import tempfile
import time
import tracemalloc
from pathlib import Path

from . import directories, machine, servers, tokens
from .workers import Worker

SITECUSTOMIZE = '''
import os, signal, tracemalloc
if os.environ.get("BENCH_TRACEMALLOC_DIR"):
    tracemalloc.start(int(os.environ["BENCH_TRACEMALLOC_FRAMES"]))
    _taken = [0]
    def _dump(signum, frame):
        path = os.path.join(os.environ["BENCH_TRACEMALLOC_DIR"], "snap%d" % _taken[0])
        _taken[0] += 1
        tracemalloc.take_snapshot().dump(path)
        os.rename(path, path + ".done")
    signal.signal(signal.SIGUSR1, _dump)
'''
LAYERS = [("/web/", "web"), ("presence_actors/", "core"), ("storage/", "storage"),
          ("quart", "quart"), ("werkzeug/", "quart"), ("hypercorn/", "hypercorn"),
          ("wsproto/", "wsproto"), ("h11/", "h11")]


def snapshot(service: servers.Service, directory: Path, index: int) -> tracemalloc.Snapshot:
    done = directory / f"snap{index}.done"
    service.process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 120
    while not done.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the server took no snapshot")
        time.sleep(0.1)
    return tracemalloc.Snapshot.load(str(done))


def layer(traceback: tracemalloc.Traceback) -> str:
    for frame in reversed(list(traceback)):
        for key, name in LAYERS:
            if key in frame.filename:
                return name
    return "other"


def report(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, n: int,
           top: int = 25) -> list[str]:
    stats = [s for s in after.compare_to(before, "traceback") if s.size_diff > 0]
    by_layer: collections.Counter[str] = collections.Counter()
    by_site: collections.Counter[str] = collections.Counter()
    for stat in stats:
        by_layer[layer(stat.traceback)] += stat.size_diff
        frames = [f for f in stat.traceback if any(k in f.filename for k, _ in LAYERS)]
        inner = stat.traceback[-1]
        site = " > ".join(f"{Path(f.filename).name}:{f.lineno}" for f in frames[-2:])
        by_site[f"{site or '?'} <- {Path(inner.filename).name}:{inner.lineno}"] += stat.size_diff
    lines = [f"traced per socket {sum(by_layer.values()) / n / 1024:.1f} KB", "-- by layer"]
    lines += [f"{size / n:7.0f} B  {name}" for name, size in by_layer.most_common()]
    lines += ["-- largest allocation sites (caller frames <- allocating line)"]
    lines += [f"{size / n:7.0f} B  {site}" for site, size in by_site.most_common(top)]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.socket_memory", description=__doc__)
    parser.add_argument("sockets", type=int, nargs="?", default=1000)
    parser.add_argument("--frames", type=int, default=8, help="traceback depth per trace")
    args = parser.parse_args(argv)
    machine.raise_nofile()
    work = Path(tempfile.mkdtemp(prefix="presence-socket-memory-"))
    (work / "sitecustomize.py").write_text(SITECUSTOMIZE)
    url = f"sqlite:///{work / 'memory.db'}"
    log = work / "server.log"
    servers.import_directory(url, directories.write(directories.isolated(args.sockets),
                                                    work / "directory.json"), log)
    os.environ.update(BENCH_TRACEMALLOC_DIR=str(work), BENCH_TRACEMALLOC_FRAMES=str(args.frames),
                      PYTHONPATH=os.pathsep.join([str(work), os.environ.get("PYTHONPATH", "")]))
    service = servers.Service(url, log)
    pool = None
    try:
        time.sleep(1.0)
        rss0, before = service.rss(), snapshot(service, work, 0)
        pool = Worker("bench.pool.SubscriberPool", host=service.host, port=service.port,
                      subscribers=[(u, tokens.subscribe_path(u))
                                   for u in range(1, args.sockets + 1)], mode="idle")
        opened = pool.call("connect", concurrency=50, timeout=600)
        n = opened["connected"]
        time.sleep(2.0)
        rss1, after = service.rss(), snapshot(service, work, 1)
        print(f"{n} sockets ({opened['statuses']}); RSS per socket (tracemalloc on) "
              f"{(rss1 - rss0) / max(n, 1) / 1024:.1f} KB")
        print("\n".join(report(before, after, max(n, 1))))
    finally:
        if pool is not None:
            pool.stop()
        service.stop()


if __name__ == "__main__":
    main()
