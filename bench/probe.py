"""Timestamps from inside the server under test, for the F2 tail: what ran when it stalled.

Loaded into the serving process by `bench/probe_site/sitecustomize.py` when the bench runs
with `--profile` (the server's code is not touched): it records, on `time.monotonic()` (the
clock the load processes stamp sends and receptions with), one CSV line per event:

- `tick,t,seconds,,cpu`: one pass of trio's run loop between two I/O waits that took
  longer than `BENCH_PROBE_TICK` (20 ms) of wall time: nothing else ran during it. With
  `BENCH_PROBE_STEPS=1` a `step,t,seconds,task-name,cpu` line names every task step over
  the same bound (this costs a timer per step, so it is opt-in).
- `gc,t,seconds,generation,cpu`: every cyclic collection of generation 1 or 2.
- `prune,t,seconds,heap-length,cpu`: every `Deadlines._prune` of trio's deadline heap.

`cpu` is the trio thread's own CPU time over the same span (`time.thread_time`): on a
shared machine a 400 ms pass may hold 15 ms of work and 385 ms of waiting for the core,
and only the first is the server's doing.
- `directory,t,seconds,forced`: every directory reload (`DirectoryCache.refresh`, or
  `PresenceService.refresh_directory` in older trees; wall time, including the wait for
  the store).
- `second,t,busy-seconds,ticks,heap,active,cpu,wait,gc0-seconds,gc0-count,gc0-cpu`: once
  a second, the run loop's busy time and passes, the deadline heap's length and live
  entries, the trio thread's seconds on a CPU and seconds runnable but waiting for one
  (other tenants of the core), and the gen-0 collections of that second.

One switch turns a suspect off for an experiment, without touching the service's code:
`BENCH_GC_THRESHOLD=a,b,c` replaces the thresholds the service sets after start-up (an
`experiment,...` line says so). Hypercorn's pings and the periodic directory reload are
switched off with the service's own settings (`PRESENCE_WS_PING_INTERVAL`,
`PRESENCE_DIRECTORY_REFRESH`, set to a large number).

The reaches into trio and the service are by name, checked, and skipped (with a
`missing,...` line) when a name is gone, so a refactor of the service cannot break the run.
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
import threading
import time

_lines: list[str] = []
_runner = None
_busy = [0.0, 0]  # run-loop seconds and passes since the last `second` line
_young = [0.0, 0, 0.0]  # gen-0 collections since the last `second` line: wall, count, CPU


def install(path: str) -> None:
    out = open(path, "a", buffering=1 << 16)  # noqa: SIM115 - closed by the flusher
    gc.callbacks.append(_gc_callback)
    _patch_trio(float(os.environ.get("BENCH_PROBE_TICK", "0.02")),
                os.environ.get("BENCH_PROBE_STEPS") == "1")
    _patch_directory()
    if os.environ.get("BENCH_GC_THRESHOLD"):
        _after_startup_gc(tuple(int(x) for x in os.environ["BENCH_GC_THRESHOLD"].split(",")))
    thread = threading.Thread(target=_flusher, args=(out,), name="bench-probe", daemon=True)
    thread.start()
    atexit.register(_flush, out)


def _emit(*fields: object) -> None:
    _lines.append(",".join(f"{f:.6f}" if isinstance(f, float) else str(f) for f in fields))


def _flusher(out) -> None:
    from bench.machine import schedstat

    tid = threading.main_thread().native_id
    last = schedstat(tid=tid)
    while True:
        time.sleep(1.0)
        heap = active = -1
        deadlines = getattr(_runner, "deadlines", None)
        if deadlines is not None:
            heap, active = len(deadlines._heap), deadlines._active
        (busy, ticks), (young, collections, young_cpu) = _busy, _young
        _busy[:], _young[:] = [0.0, 0], [0.0, 0, 0.0]
        now = schedstat(tid=tid)
        _emit("second", time.monotonic(), busy, ticks, heap, active, now[0] - last[0],
              now[1] - last[1], young, collections, young_cpu)
        last = now
        _flush(out)


def _flush(out) -> None:
    lines, _lines[:] = _lines[:], []
    if lines:
        out.write("\n".join(lines) + "\n")
        out.flush()


_gc_started = [0.0, 0.0]


def _gc_callback(phase: str, info: dict) -> None:
    if phase == "start":
        _gc_started[:] = time.monotonic(), time.thread_time()
    elif info.get("generation", 0) >= 1:
        _emit("gc", _gc_started[0], time.monotonic() - _gc_started[0], info["generation"],
              time.thread_time() - _gc_started[1])
    else:
        _young[0] += time.monotonic() - _gc_started[0]
        _young[1] += 1
        _young[2] += time.thread_time() - _gc_started[1]


def _patch_trio(tick_bound: float, steps: bool) -> None:
    from trio import abc
    from trio._core import _run

    class Probe(abc.Instrument):
        def __init__(self) -> None:
            self.woke = None
            self.woke_cpu = self.step_started = self.step_cpu = 0.0

        def after_io_wait(self, timeout: float) -> None:
            self.woke, self.woke_cpu = time.monotonic(), time.thread_time()

        def before_io_wait(self, timeout: float) -> None:
            if self.woke is None:
                return
            took = time.monotonic() - self.woke
            _busy[0] += took
            _busy[1] += 1
            if took > tick_bound:
                _emit("tick", self.woke, took, "", time.thread_time() - self.woke_cpu)

    class StepProbe(Probe):
        def before_task_step(self, task) -> None:
            self.step_started, self.step_cpu = time.monotonic(), time.thread_time()

        def after_task_step(self, task) -> None:
            took = time.monotonic() - self.step_started
            if took > tick_bound:
                _emit("step", self.step_started, took, task.name.replace(",", ";"),
                      time.thread_time() - self.step_cpu)

    setup = getattr(_run, "setup_runner", None)
    deadlines = getattr(_run, "Deadlines", None)
    if setup is None or deadlines is None or not hasattr(deadlines, "_prune"):
        _emit("missing", time.monotonic(), 0.0, "trio internals")
        return

    @functools.wraps(setup)
    def setup_runner(*args, **kwargs):
        global _runner
        _runner = setup(*args, **kwargs)
        _runner.instruments.add_instrument(StepProbe() if steps else Probe())
        return _runner

    prune = deadlines._prune

    def _prune(self) -> None:
        started, cpu, size = time.monotonic(), time.thread_time(), len(self._heap)
        prune(self)
        _emit("prune", started, time.monotonic() - started, size, time.thread_time() - cpu)

    _run.setup_runner = setup_runner
    deadlines._prune = _prune


def _patch_directory() -> None:
    """Stamp every directory reload, wherever this tree keeps it."""
    for module_name, class_name, method in (
        ("presence_actors.directory_cache", "DirectoryCache", "refresh"),
        ("presence_actors.service", "PresenceService", "refresh_directory"),
    ):
        try:
            module = __import__(module_name, fromlist=[class_name])
        except Exception:  # the probe must never stop the server
            continue
        cls = getattr(module, class_name, None)
        if cls is not None and hasattr(cls, method):
            setattr(cls, method, _stamped(getattr(cls, method)))
            return
    _emit("missing", time.monotonic(), 0.0, "the directory reload")


def _stamped(refresh):
    @functools.wraps(refresh)
    async def stamped(self, *args, **kwargs):
        started = time.monotonic()
        try:
            return await refresh(self, *args, **kwargs)
        finally:
            forced = bool(kwargs.get("force", args[0] if args else False))
            _emit("directory", started, time.monotonic() - started, int(forced))

    return stamped


def _after_startup_gc(thresholds: tuple[int, ...]) -> None:
    from web import host

    freeze = getattr(host, "freeze_startup_heap", None)
    if freeze is None:
        _emit("missing", time.monotonic(), 0.0, "web.host.freeze_startup_heap")
        return

    def freeze_startup_heap() -> None:
        freeze()
        gc.set_threshold(*thresholds)
        text = "gc thresholds " + "/".join(map(str, thresholds))
        _emit("experiment", time.monotonic(), 0.0, text)

    host.freeze_startup_heap = freeze_startup_heap
