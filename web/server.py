"""Running the app on hypercorn's trio worker with the settings that make sockets healthy.

Dead peers: the pump (web/pump.py) pings every socket once per `ws_ping_interval`, and a
live client answers each ping with a pong; so a connection that has sent nothing for
`dead_peer_timeout` (> 2 ping intervals) is gone, and hypercorn's `read_timeout` drops it.
hypercorn's own pings are off: they cost a sleeping task per socket and kept a closed
socket's connection (and fd) open for up to an interval. Frames over 4 KiB are refused by
hypercorn itself with close code 1009.

Capacity: the soft file-descriptor limit is raised to the hard one at start, the listen
backlog is `backlog` (hypercorn's default of 100 overflowed in reconnect storms, and the
kernel's SYN retries then outlasted the disconnect grace), and sockets beyond the node's
capacity are refused with 503 before the upgrade (web/host.py). When descriptors run out
all the same, trio's accept loop logs EMFILE with a traceback ten times a second; that is
cut to one line per interval.

`serve` runs until `shutdown` is set, then drains (sockets close with 1001) before
hypercorn stops listening; the app's `after_serving` then stops the actors and flushes.
"""

from __future__ import annotations

import logging
import resource
import socket
import time
from functools import partial

import hypercorn.trio
import trio
from hypercorn.config import Config

from . import hypercorn_patch
from .access_log import AccessLogger
from .config import MAX_FRAME_BYTES, Settings
from .host import host_of

ACCEPT_LOGGER = "trio.serve_listeners"


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    config.bind = [settings.bind]
    config.backlog = settings.backlog
    config.websocket_ping_interval = None  # the pump pings (see above)
    config.read_timeout = settings.dead_peer_timeout
    config.websocket_max_message_size = MAX_FRAME_BYTES
    config.graceful_timeout = settings.shutdown_timeout / 2
    # Through the logging module (one handler, configured by the CLI), not straight to stderr.
    config.accesslog = logging.getLogger("hypercorn.access") if settings.access_log else None
    config.logger_class = AccessLogger  # one access line per request, see web.access_log
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


def connection_policy(settings: Settings) -> hypercorn_patch.ConnectionPolicy:
    return hypercorn_patch.ConnectionPolicy(settings.write_timeout, settings.close_timeout)


def prepare_process() -> int:
    """Raise the soft fd limit to the hard one and quiet EMFILE; the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    accept_log = logging.getLogger(ACCEPT_LOGGER)
    if not any(isinstance(f, OncePerInterval) for f in accept_log.filters):
        accept_log.addFilter(OncePerInterval())
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def serve(
    app, settings: Settings, shutdown: trio.Event, task_status=trio.TASK_STATUS_IGNORED,
    listener: socket.socket | None = None,
) -> None:
    """Serve until `shutdown` is set; `task_status.started(urls)` once listening.

    `listener`: a socket already bound to host:port (`web.startup.bind_listener`), which
    hypercorn then owns; without it hypercorn binds host:port itself.

    Raises:
        web.hypercorn_patch.HypercornPatchError: hypercorn is not a version we know.
    """
    host = host_of(app)

    async def trigger() -> None:
        await shutdown.wait()
        await host.drain()

    prepare_process()
    host.measure_capacity()
    config = hypercorn_config(settings)
    hypercorn_patch.install(connection_policy(settings), config, app.asgi_app.route.direct)
    if listener is not None:
        config.bind = [f"fd://{listener.detach()}"]
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(
            partial(hypercorn.trio.serve, app, config, shutdown_trigger=trigger)
        )
        if host.service is None:
            # hypercorn listens even when start-up failed; its LifespanFailureError is on
            # the way and will cancel this wait. Never report such a server as started.
            await trio.sleep_forever()
        task_status.started(urls)


class OncePerInterval(logging.Filter):
    """Lets one record through per `interval` seconds, without its traceback, and says
    how many it held back: trio retries a failed accept every 100 ms and logs each."""

    def __init__(self, interval: float = 10.0, clock=time.monotonic) -> None:
        super().__init__()
        self.interval, self.clock = interval, clock
        self._next = -float("inf")
        self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        if now < self._next:
            self._held += 1
            return False
        self._next = now + self.interval
        message = record.getMessage()
        if self._held:
            message += f" ({self._held} more like it in the last {self.interval:g} s)"
        record.msg, record.args, record.exc_info, record.exc_text = message, (), None, None
        self._held = 0
        return True
