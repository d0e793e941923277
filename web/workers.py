"""`serve --workers N` (`PRESENCE_WORKERS`): N processes on one port, one cluster node each.

The parent binds N listening sockets to the same address with SO_REUSEPORT (the first
one resolves port 0; a port already taken fails here, before any worker starts, and
nothing is changed), then starts N workers (`python -m web.workers`), each serving on
its own socket: the kernel spreads new connections over them. Each worker is a whole
service (actors, store, hypercorn) and one node of the cluster on `PRESENCE_REDIS_URL`;
without Redis, N workers would be N services that disagree about who is online, so
N > 1 is refused.

- A worker reports readiness on a pipe once it listens; the parent prints the address
  when all have.
- SIGTERM / SIGINT to the parent: each worker gets SIGTERM and shuts down gracefully
  (sockets closed with 1001, store flushed); the parent exits 0 when all exited 0.
- A worker that dies is started again on the same socket (the parent keeps it open so
  the kernel never routes to a socket nobody accepts on), at most `MAX_RESTARTS` times
  in `RESTART_PERIOD`; beyond that the parent stops everything and exits 1.
- Each worker watches a "lifeline" pipe whose write end only the parent holds: if the
  parent dies (even by SIGKILL), the pipe closes and the workers shut down by themselves.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass

import trio

from .config import ConfigError, Settings

log = logging.getLogger("web.workers")
SPEC_ENV = "PRESENCE_WORKER_SPEC"  # how the parent hands a worker its settings and pipes
START_TIMEOUT = 60.0  # a worker that is not listening by then failed to start
MAX_RESTARTS, RESTART_PERIOD = 3, 60.0


def check(settings: Settings) -> None:
    """Refuse a worker count that cannot work, before anything is bound or started.

    Raises:
        ConfigError: fewer than 1 worker; more than 1 without Redis or on `memory://`;
            a malformed Redis URL.
    """
    if settings.workers < 1:
        raise ConfigError(f"PRESENCE_WORKERS must be at least 1, got {settings.workers}")
    if settings.workers == 1:
        return
    if not settings.redis_url:
        raise ConfigError(
            f"--workers {settings.workers} needs PRESENCE_REDIS_URL (--redis-url): each worker "
            "is a node of one cluster, and without Redis they would disagree about who is online"
        )
    if (settings.database_url or "").startswith("memory:"):
        raise ConfigError("--workers > 1 cannot share a memory:// store: use sqlite or postgresql")
    from presence_actors.cluster import parse_redis_url

    try:
        parse_redis_url(settings.redis_url)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def serve_workers(settings: Settings) -> int:
    """Run N workers until SIGTERM/SIGINT; the exit status for the CLI.

    Raises:
        ConfigError: see `check`; the address cannot be bound.
    """
    check(settings)
    settings.prepare_data_dir()
    listeners = bind_listeners(settings.host, settings.port, settings.workers)
    try:
        return trio.run(_supervise, settings, listeners)
    finally:
        for listener in listeners:
            listener.close()


def bind_listeners(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one address, in one SO_REUSEPORT group.

    Raises:
        ConfigError: the address is taken or cannot be bound.
    """
    listeners: list[socket.socket] = []
    try:
        for _ in range(count):
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            listener = socket.socket(family, socket.SOCK_STREAM)
            listeners.append(listener)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            listener.bind((host, port))
            listener.listen(1024)
            listener.set_inheritable(True)
            port = listener.getsockname()[1]  # port 0: the others join the one it got
    except OSError as error:
        for listener in listeners:
            listener.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return listeners


# --- the parent ------------------------------------------------------------------------


@dataclass
class Worker:
    index: int
    listener: socket.socket
    process: trio.Process | None = None
    lifeline: int | None = None  # the write end the parent holds (never written)
    restarts: list[float] = dataclasses.field(default_factory=list)


async def _supervise(settings: Settings, listeners: list[socket.socket]) -> int:
    workers = [Worker(i, listener) for i, listener in enumerate(listeners)]
    host, port = listeners[0].getsockname()[:2]
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        failed: BaseException | None = None
        try:
            with trio.fail_after(START_TIMEOUT):
                async with trio.open_nursery() as nursery:
                    for worker in workers:
                        nursery.start_soon(_start, settings, worker)
        except* (trio.TooSlowError, ChildProcessError) as group:  # the nursery groups them
            failed = group.exceptions[0]
        if failed is not None:
            log.error("a worker failed to start: %s", failed)
            await _stop_all(workers, settings)
            return 1
        print(
            f"presence-actors listening on http://{host}:{port} with {len(workers)} workers, "
            f"one cluster node each",
            flush=True,
        )
        code = await _watch(settings, workers, signals)
        return max(code, await _stop_all(workers, settings))


async def _start(settings: Settings, worker: Worker) -> None:
    """Start one worker and wait until it listens.

    Raises:
        ChildProcessError: it exited before it was ready.
    """
    ready_read, ready_write = os.pipe()
    lifeline_read, worker.lifeline = os.pipe()
    spec = {
        "settings": {
            f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)
        }
        | {"port": worker.listener.getsockname()[1], "listen_fd": worker.listener.fileno()},
        "ready_fd": ready_write,
        "lifeline_fd": lifeline_read,
        "index": worker.index,
    }
    worker.process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "web.workers"],
        env={**os.environ, SPEC_ENV: json.dumps(spec)},
        pass_fds=(worker.listener.fileno(), ready_write, lifeline_read),
    )
    os.close(ready_write)
    os.close(lifeline_read)
    async with trio.lowlevel.FdStream(ready_read) as ready:
        if not await ready.receive_some():
            code = await worker.process.wait()
            raise ChildProcessError(f"worker {worker.index} exited with {code} before listening")


async def _watch(settings: Settings, workers: list[Worker], signals) -> int:
    """Until a signal: restart workers that die. Returns 1 when one keeps dying."""
    async with trio.open_nursery() as nursery:
        failed = trio.Event()
        for worker in workers:
            nursery.start_soon(_keep_running, settings, worker, failed)
        async with trio.open_nursery() as waiting:

            async def on_signal() -> None:
                async for signum in signals:
                    log.info("%s: stopping the workers", signal.Signals(signum).name)
                    break
                waiting.cancel_scope.cancel()

            async def on_failure() -> None:
                await failed.wait()
                waiting.cancel_scope.cancel()

            waiting.start_soon(on_signal)
            waiting.start_soon(on_failure)
        nursery.cancel_scope.cancel()
    return 1 if failed.is_set() else 0


async def _keep_running(settings: Settings, worker: Worker, failed: trio.Event) -> None:
    while True:
        code = await worker.process.wait()
        now = trio.current_time()
        worker.restarts = [t for t in worker.restarts if t > now - RESTART_PERIOD]
        if len(worker.restarts) >= MAX_RESTARTS:
            log.error("worker %d keeps exiting (last: %s); giving up", worker.index, code)
            failed.set()
            return
        worker.restarts.append(now)
        log.warning("worker %d exited with %s; starting it again", worker.index, code)
        _close_lifeline(worker)
        try:
            await _start(settings, worker)
        except ChildProcessError as error:
            log.error("%s", error)


async def _stop_all(workers: list[Worker], settings: Settings) -> int:
    """SIGTERM every worker, wait for all (bounded), SIGKILL the ones still there.
    Returns 0 when every worker exited 0."""
    running = [w for w in workers if w.process is not None and w.process.returncode is None]
    for worker in running:
        worker.process.send_signal(signal.SIGTERM)
    code = 0
    with trio.move_on_after(2 * settings.shutdown_timeout + 5) as scope:
        for worker in running:
            if await worker.process.wait() != 0:
                code = 1
    if scope.cancelled_caught:
        for worker in running:
            if worker.process.returncode is None:
                log.error("worker %d did not stop in time; killing it", worker.index)
                worker.process.kill()
                code = 1
    for worker in workers:
        _close_lifeline(worker)
    return code


def _close_lifeline(worker: Worker) -> None:
    if worker.lifeline is not None:
        os.close(worker.lifeline)
        worker.lifeline = None


# --- a worker --------------------------------------------------------------------------


def worker_main() -> None:
    """Entry point of one worker process (`python -m web.workers`). A start that fails is
    one line on stderr and exit 1 (the parent then stops the others, see `_supervise`)."""
    from .startup import StartupError

    spec = json.loads(os.environ.pop(SPEC_ENV))
    settings = Settings(**spec["settings"])
    logging.basicConfig(
        level=os.environ.get("PRESENCE_LOG_LEVEL", "INFO").upper(),
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s worker-{spec['index']} %(name)s: %(message)s",
    )
    try:
        trio.run(_serve_worker, settings, spec["ready_fd"], spec["lifeline_fd"])
    except (StartupError, BaseExceptionGroup) as error:
        failed = error
        while isinstance(failed, BaseExceptionGroup) and len(failed.exceptions) == 1:
            failed = failed.exceptions[0]
        if not isinstance(failed, StartupError):
            raise
        print(f"Error: worker {spec['index']}: {failed}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


async def _serve_worker(settings: Settings, ready_fd: int, lifeline_fd: int) -> None:
    """The same start as `serve` (web/startup.py: keys, store within startup_timeout, the
    joined cluster start-up), on the socket the parent bound; ready once listening."""
    from .startup import serve

    listener = socket.socket(fileno=settings.listen_fd)
    shutdown = trio.Event()

    def listening(url: str) -> None:
        os.write(ready_fd, b"ready\n")
        os.close(ready_fd)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(_until_parent_gone, lifeline_fd, shutdown)
        await serve(settings, listening, listener=listener, shutdown=shutdown)
        nursery.cancel_scope.cancel()


async def _until_parent_gone(lifeline_fd: int, shutdown: trio.Event) -> None:
    async with trio.lowlevel.FdStream(lifeline_fd) as lifeline:
        while await lifeline.receive_some():
            pass
    log.warning("the parent process is gone: stopping")
    shutdown.set()


if __name__ == "__main__":
    worker_main()
