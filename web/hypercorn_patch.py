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

The same hook gives fan-out a fast path. Each connection's task remembers its
`TCPServer` in a context variable, which the app task handling that connection inherits;
a session that finds it writes a whole batch of pre-encoded WebSocket text frames with
one non-blocking write when the socket has room and hypercorn is not writing (no await,
no task switch), else one `send_all` under hypercorn's own send lock and the deadline
above, instead of one Quart -> ASGI -> wsproto -> lock -> syscall round per frame. Server
frames are unmasked and a text frame is just a header and the UTF-8 payload; with
permessage-deflate negotiated, an uncompressed message (RSV1 clear) is still valid
(RFC 7692 §6).
Where the variable is unset (the Quart test client, another server) sessions use
`websocket.send`.
"""

from __future__ import annotations

import math
import os
import struct
from contextvars import ContextVar

import trio
from hypercorn.events import Closed, RawData
from hypercorn.trio.tcp_server import TCPServer

_original_protocol_send = TCPServer.protocol_send
_original_run = TCPServer.run
_connection: ContextVar[TCPServer | None] = ContextVar("presence_connection", default=None)


async def _protocol_send_with_deadline(self: TCPServer, event) -> None:
    timeout = getattr(self.config, "write_timeout", None)
    if timeout is None or not isinstance(event, RawData):
        await _original_protocol_send(self, event)
        return
    async with self.send_lock:
        await _write_or_drop(self, event.data, timeout)


async def _write_or_drop(connection: TCPServer, data: bytes, timeout: float) -> None:
    """`send_all` within the deadline (the caller holds the send lock); a peer that is
    gone or does not read in time is dropped, and the app sees an ordinary disconnect."""
    try:
        with trio.CancelScope(shield=True), trio.move_on_after(timeout) as deadline:
            await connection.stream.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError):
        # Busy: hypercorn is already closing this stream (its send_eof takes no lock).
        await connection.protocol.handle(Closed())
        return
    if deadline.cancelled_caught:
        with trio.CancelScope(shield=True):
            await connection.stream.aclose()
        await connection.protocol.handle(Closed())


async def _run_remembering_connection(self: TCPServer) -> None:
    _connection.set(self)  # inherited by the app task hypercorn spawns for this connection
    await _original_run(self)


def install() -> None:
    """Idempotent: route hypercorn's writes through the deadline; remember connections."""
    TCPServer.protocol_send = _protocol_send_with_deadline
    TCPServer.run = _run_remembering_connection


def current_connection() -> TCPServer | None:
    """The hypercorn connection this task serves, when there is one to write to directly."""
    return _connection.get()


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked WebSocket text frame (RFC 6455 §5.2) around UTF-8 `payload`."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


def encode_text_frames(frames: list[bytes]) -> bytes:
    return b"".join(text_frame(f) for f in frames)


def write_now(connection: TCPServer, data: bytes) -> int:
    """Write what the socket takes right now, without waiting; how many bytes went out.

    Nothing is written while hypercorn holds its send lock (a ping, a close, or a batch
    still going out), nor on a TLS stream; errors are left for the locked path to meet."""
    stream = connection.stream
    if connection.send_lock.locked() or not isinstance(stream, trio.SocketStream):
        return 0
    try:
        return os.write(stream.socket.fileno(), data)
    except OSError:  # BlockingIOError included
        return 0


async def send_rest(connection: TCPServer, data: bytes, written: int) -> None:
    """Finish a batch `write_now` started, under the lock and the write deadline."""
    if written == 0:
        await connection.protocol_send(RawData(data))
        return
    # Part of a frame is on the wire: take the lock before anything can yield, so no
    # other writer (hypercorn's pings and close) can interleave with the rest.
    connection.send_lock.acquire_nowait()
    try:
        timeout = getattr(connection.config, "write_timeout", None) or math.inf
        await _write_or_drop(connection, data[written:], timeout)
    finally:
        connection.send_lock.release()
