"""Running the app on hypercorn's trio worker with the settings that make sockets healthy.

hypercorn's `websocket_ping_interval` only *sends* pings: pongs are dropped before the
app sees them, so pings alone never close a dead peer. What closes it is `read_timeout`:
a live client answers each ping with a pong, so a connection that has sent nothing for
`dead_peer_timeout` (> 2 ping intervals) is gone and hypercorn drops it. Frames over 4 KiB
are refused by hypercorn itself with close code 1009.

`serve` runs until `shutdown` is set, then drains (sockets close with 1001) before
hypercorn stops listening; the app's `after_serving` then stops the actors and flushes.
"""

from __future__ import annotations

import logging
import socket
from functools import partial

import hypercorn.trio
import trio
from hypercorn.config import Config

from . import hypercorn_patch
from .access_log import AccessLogger
from .config import MAX_FRAME_BYTES, Settings
from .host import host_of

hypercorn_patch.install()


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    config.bind = [settings.bind]
    config.websocket_ping_interval = settings.ws_ping_interval
    config.read_timeout = settings.dead_peer_timeout
    config.websocket_max_message_size = MAX_FRAME_BYTES
    config.graceful_timeout = settings.shutdown_timeout / 2
    config.write_timeout = settings.write_timeout  # read by web.hypercorn_patch
    # Through the logging module (one handler, configured by the CLI), not straight to stderr.
    config.accesslog = logging.getLogger("hypercorn.access") if settings.access_log else None
    config.logger_class = AccessLogger  # one access line per request, see web.access_log
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


async def serve(
    app, settings: Settings, shutdown: trio.Event, task_status=trio.TASK_STATUS_IGNORED,
    listener: socket.socket | None = None,
) -> None:
    """Serve until `shutdown` is set; `task_status.started(urls)` once listening.

    `listener`: a socket already bound to host:port (`web.startup.bind_listener`), which
    hypercorn then owns; without it hypercorn binds host:port itself.
    """
    host = host_of(app)

    async def trigger() -> None:
        await shutdown.wait()
        await host.drain()

    config = hypercorn_config(settings)
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
