"""Where a result was measured: machine, versions, date; and the process limits we need."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import importlib.metadata
import os
import platform
import resource

SERVER_CORE = 0
LOAD_CORE = 1
LIBRARIES = (
    "trio", "hypercorn", "quart", "quart-trio", "trio-websocket", "websockets",
    "orjson", "asyncpg", "trio-asyncio", "PyJWT",
)


def raise_nofile() -> int:
    """Raise the soft fd limit to the hard one (children inherit it); return the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cores() -> int:
    return os.cpu_count() or 1


def pin(core: int, pid: int = 0) -> bool:
    """Pin `pid` (0: this process) to one core when the machine has more than one."""
    if cores() < 2 or core >= cores():
        return False
    with contextlib.suppress(OSError):
        os.sched_setaffinity(pid, {core})
        return True
    return False


def pinned_to(core: int):
    """A `preexec_fn` pinning a child (and everything it spawns) before it runs."""
    return lambda: pin(core)


def schedstat(pid: int | str = "self", tid: int | None = None) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of a thread (Linux).

    The second number is what other processes on the same core cost a server under test:
    the time it was ready to run and was not. A run where it is large measured the
    machine's other tenants as much as the server.
    """
    path = f"/proc/{pid}/task/{tid}/schedstat" if tid else f"/proc/{pid}/schedstat"
    with contextlib.suppress(OSError, ValueError), open(path) as stat:
        on_cpu, waiting, _ = stat.read().split()
        return int(on_cpu) / 1e9, int(waiting) / 1e9
    return 0.0, 0.0


LOCK = "/tmp/presence-bench.lock"


def exclusive_bench(path: str = LOCK):
    """Hold a machine-wide lock for a full run, so two benches never share the cores.

    Every copy of this harness pins its server to core 0; two full runs at once measure
    each other. A second run waits (and says so) instead. The lock dies with the process.
    """
    handle = open(path, "a")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"another full bench holds {path}; waiting for it", flush=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def ram_gib() -> float:
    with contextlib.suppress(OSError), open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "-"
    return found


def describe() -> list[str]:
    """The lines printed above every results table."""
    libs = ", ".join(f"{k} {v}" for k, v in versions().items())
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"date: {now}",
        f"machine: {os.cpu_count()} cores ({cpu_model()}), {ram_gib():.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}",
        f"python: {platform.python_implementation()} {platform.python_version()}",
        f"libraries: {libs}",
        f"fd limit: {resource.getrlimit(resource.RLIMIT_NOFILE)}; "
        f"pinning: server core {SERVER_CORE}, load core {LOAD_CORE}"
        + ("" if cores() > 1 else " (single core: not pinned)"),
        f"load average before the run: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]
