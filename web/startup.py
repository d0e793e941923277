"""`presence-actors serve` from start to stop, where every failed start is one clear line.

The order is what makes a failed start change no stored data, and "listening" true when
it is printed:

1. settings and keys: `create_app` raises ConfigError for a key that is missing or unusable;
2. the listening socket is bound (port taken, bad host) before any store is opened;
3. the store opens and the actors start (bad, unreachable or silent database), within
   `startup_timeout`;
4. hypercorn serves on the socket bound in 2 — its "Running on" line comes only now;
5. listening, the node marks the statuses an earlier run left offline (SPEC §5; the only
   start-up write, so a start that failed in 1-4 changed no stored data), then prints
   the banner.

Each failure is a `StartupError` naming the setting (`PRESENCE_PORT: 127.0.0.1:8000 is
already in use ...`); the CLI prints it and exits 1, without a traceback.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable

import trio

from .config import ConfigError, Settings
from .host import host_of
from .tokens import token_hint

log = logging.getLogger("web")


class StartupError(Exception):
    """A start that cannot succeed; the message names the setting and what is wrong."""


def bind_listener(settings: Settings) -> socket.socket:
    """The server's socket, bound (not yet listening) the way hypercorn binds `host:port`.

    Raises:
        StartupError: the port is taken or not allowed, or the host is not an address here.
    """
    host, port = settings.host, settings.port
    where = f"{host}:{port}"
    if not 0 <= port <= 65535:
        raise StartupError(f"PRESENCE_PORT: {port} is not a port (0-65535; 0 picks a free one)")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise _bind_error(error, where, port) from None
    return sock


def _bind_error(error: OSError, where: str, port: int) -> StartupError:
    if error.errno == errno.EADDRINUSE:
        return StartupError(f"PRESENCE_PORT: {where} is already in use (another server? "
                            f"choose another port with --port)")
    if error.errno == errno.EACCES:
        return StartupError(f"PRESENCE_PORT: not allowed to listen on port {port} "
                            f"(ports below 1024 need privileges)")
    reason = error.strerror or str(error)
    return StartupError(f"PRESENCE_HOST: cannot listen on {where}: {reason}")


async def start_service(host, nursery: trio.Nursery, settings: Settings) -> None:
    """Open the store and start the actors, or say in one line why not.

    Raises:
        StartupError: the store cannot be opened (bad URL, unreachable, no answer in time).
    """
    import storage

    where = _store_setting(settings)
    try:
        with trio.fail_after(settings.startup_timeout):
            await host.start(nursery)
    except trio.TooSlowError:
        raise StartupError(f"{where}: no answer within {settings.startup_timeout:g} s "
                           f"(PRESENCE_STARTUP_TIMEOUT)") from None
    except (storage.StoreUnavailable, ValueError, OSError) as error:
        raise StartupError(f"{where}: {error}") from None


def _store_setting(settings: Settings) -> str:
    if settings.database_url is not None:
        return "PRESENCE_DATABASE_URL"
    return f"PRESENCE_DATABASE_URL (default: SQLite in PRESENCE_DATA_DIR={settings.data_dir})"


async def serve(settings: Settings, on_listening: Callable[[str], None], *,
                listener: socket.socket | None = None,
                shutdown: trio.Event | None = None) -> None:
    """Run until SIGINT or SIGTERM (or `shutdown` is set); `on_listening(url)` once the
    socket is bound, the service is up and the start-up write is done.

    `listener`: a socket already bound (a worker of `serve --workers` gets its own from
    the parent, web/workers.py); otherwise step 2 binds host:port here.

    Raises:
        StartupError: inside an ExceptionGroup (trio's nurseries), for a failed start.
    """
    from .app import create_app

    try:
        app = create_app(settings)
    except ConfigError as error:
        raise StartupError(str(error)) from None
    if listener is None:
        listener = bind_listener(settings)
    if shutdown is None:
        shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        await start_service(host_of(app), nursery, settings)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            urls = await nursery.start(_serve_then_stop, app, settings, shutdown, listener)
            # Listening and serving: the point after which start-up may write (SPEC §5).
            # A cluster node first waits to have joined (web/host.py, docs/cluster.md).
            await host_of(app).mark_offline()
            on_listening(urls[0])
            async with trio.open_nursery() as waiting:
                waiting.start_soon(_until_signal, signals, shutdown)
                await shutdown.wait()
                waiting.cancel_scope.cancel()
    log.info("stopped")


async def _until_signal(signals, shutdown: trio.Event) -> None:
    async for signum in signals:
        log.info("%s: closing sockets, flushing, stopping", signal.Signals(signum).name)
        shutdown.set()
        return


async def _serve_then_stop(app, settings: Settings, shutdown: trio.Event,
                           listener: socket.socket,
                           task_status=trio.TASK_STATUS_IGNORED) -> None:
    """hypercorn on `listener` until `shutdown`; then the service stops, whatever the
    app's lifespan did (its after_serving normally has; stopping twice is harmless)."""
    from .server import serve as run_server

    try:
        await run_server(app, settings, shutdown, task_status=task_status, listener=listener)
    finally:
        with trio.CancelScope(shield=True):
            await host_of(app).stop()


def _command() -> str:
    """How to call this CLI again from here: its name when on PATH, else its path
    (`./dev serve` runs it from .venv/bin, which is not on PATH)."""
    here = os.path.abspath(sys.argv[0])
    on_path = shutil.which("presence-actors")
    if os.path.basename(here) != "presence-actors":
        return "presence-actors"  # run some other way (python -m, tests)
    if on_path is not None and os.path.abspath(on_path) == here:
        return "presence-actors"
    return os.path.relpath(here)


def banner(url: str, settings: Settings, sources: dict[str, str]) -> str:
    """What `serve` prints once it is listening: where, which store, how to get a token."""
    hint = token_hint(settings, _command(), sources)
    token = f"$({hint.command})" if hint.command else "$TOKEN"
    return (
        f"presence-actors listening on {url}\n"
        f"  store:     {redacted(settings.store_url)}\n"
        f"  token:     {hint.command + '   # ' if hint.command else ''}{hint.note}\n"
        f"  try:       curl -s -H \"Authorization: Bearer {token}\" {url}/api/presence/users\n"
        f"  websocket: {url.replace('http', 'ws', 1)}/api/presence/subscribe?token={token}\n"
        f"  stop:      Ctrl+C (sockets close with 1001, storage flushes)"
    )


def redacted(url: str) -> str:
    """`url` without its password, for the banner and the CLI's messages."""
    from storage import parse_url

    try:
        return parse_url(url).redacted()
    except ValueError:
        return url
