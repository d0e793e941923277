"""A deadline on hypercorn's socket writes: the one thing an ASGI app cannot do itself.

hypercorn 0.18's trio `TCPServer.protocol_send` runs `send_all` inside a shielded cancel
scope, so a peer that stops reading (an app suspended with its socket open keeps acking a
zero window) blocks the writing task for ever: cancelling it does nothing, a close frame
queues behind the same lock, and hypercorn's own `read_timeout` cannot help either — the
connection's task group waits for that very task before it closes the socket. Measured:
370,000 pushes at a non-reading client over 20 s, socket never closed.

With `config.write_timeout` set, a write that has not completed in time drops the TCP
connection (half a frame may be on the wire, so the stream is unusable anyway); the app
then sees an ordinary disconnect. Without it, hypercorn's behaviour is unchanged.
Installed on import of `web.server` (and so by `web.hypercorn_conf` under the hypercorn CLI).
"""

from __future__ import annotations

import trio
from hypercorn.events import Closed, RawData
from hypercorn.trio.tcp_server import TCPServer

_original_protocol_send = TCPServer.protocol_send


async def _protocol_send_with_deadline(self: TCPServer, event) -> None:
    timeout = getattr(self.config, "write_timeout", None)
    if timeout is None or not isinstance(event, RawData):
        await _original_protocol_send(self, event)
        return
    async with self.send_lock:
        try:
            with trio.CancelScope(shield=True), trio.move_on_after(timeout) as deadline:
                await self.stream.send_all(event.data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await self.protocol.handle(Closed())
            return
        if deadline.cancelled_caught:
            with trio.CancelScope(shield=True):
                await self.stream.aclose()
            await self.protocol.handle(Closed())


def install() -> None:
    """Idempotent: route hypercorn's writes through the deadline."""
    TCPServer.protocol_send = _protocol_send_with_deadline
