"""`/api/presence/subscribe` (SPEC §8): the route that hands each socket to a session.

Under hypercorn with web/hypercorn_patch.py installed, the route is *direct*: hypercorn's
read loop delivers the socket's messages to its `SocketSession` itself, so the socket
costs no ASGI task or queue (`direct`, registered by `web.server.serve` and
`web.hypercorn_conf`). Anywhere else — another ASGI server, an HTTP/2 stream, a test
client — the same session is driven by a short ASGI loop (`__call__`, reached through
web/asgi.py). Admission, writes, pings and close codes are the session's either way.
"""

from __future__ import annotations

import logging
import weakref

import trio

from . import hypercorn_patch
from .session import SessionState, SocketSession

log = logging.getLogger("web")

PATH = "/api/presence/subscribe"


class SubscribeRoute:
    def __init__(self, host) -> None:
        self.host = host
        self._watched: weakref.WeakSet = weakref.WeakSet()  # hypercorn workers seen
        self._warned = False

    def direct(self, scope: dict, send, raw):
        """hypercorn's read loop asks: the message handler for this scope, if it is ours."""
        if scope.get("type") != "websocket" or scope.get("path") != PATH:
            return None
        self._watch(raw)
        return SocketSession(self.host, scope, send, raw, direct=True).deliver

    async def __call__(self, scope: dict, receive, send) -> None:
        """The same session driven through ASGI, when the direct route did not take it."""
        session = SocketSession(self.host, scope, send, self._raw(scope))
        try:
            while session.state is not SessionState.CLOSED:
                await session.deliver(await receive())
        finally:
            with trio.CancelScope(shield=True):
                if session.state in (SessionState.OPEN, SessionState.CLOSING):
                    await session.say_goodbye()  # cancelled: the server is going away
                await session.end()

    def _watch(self, raw) -> None:
        """Drain when hypercorn itself begins to stop (its CLI does not tell the app until
        every connection has ended): one watcher per hypercorn worker."""
        worker = raw.server.context
        if worker not in self._watched:
            self._watched.add(worker)
            self.host.pump.spawn(self._drain_when_stopping, raw)

    async def _drain_when_stopping(self, raw) -> None:
        await hypercorn_patch.until_stopping(raw)
        await self.host.drain()

    def _raw(self, scope: dict):
        raw = hypercorn_patch.current_connection(scope)
        if raw is None and not hypercorn_patch.installed() and not self._warned:
            self._warned = True
            log.warning("web.hypercorn_patch is not installed in this process: WebSockets are "
                        "written slowly and not pinged (see docs/operations.md)")
        return raw
