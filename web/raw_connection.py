"""Our handle on one hypercorn TCP connection: whole WebSocket frames written directly,
every write under a deadline, and whether the WebSocket has begun closing.

`web/hypercorn_patch.py` creates one per connection and routes hypercorn's own writes
through `write_locked`; a session writes with `write_now` (no wait: what the socket takes
at once) and, when that is not everything, `write_rest` under hypercorn's send lock. So
writes never interleave mid-frame, and a write that is cancelled from outside is never
left half-done: only its deadlines end it. The peer that does not take a write in
`write_timeout` gets a short grace (`close_timeout`) to take the rest of the frame it is
in — frames not begun are dropped — so a close frame can still follow (1013); past that
the TCP connection is dropped, and hypercorn's read loop reports the disconnect.

Reading is hypercorn's loop with one change (`read_loop`): no deadline per read. hypercorn
put a `fail_after(read_timeout)` around every `receive_some`, a cancel scope and a heap
entry per read on every connection (F2: 5.7 % of the server's CPU in `fail_after`, and
trio pruning a heap of stranded entries, 8 % more). Each read now stamps `last_read`, and
`drop_silent` — called by the pump a few times a second — drops the connections that have
sent nothing for their `read_timeout`: the same dead-peer and slow-client guard, one pass
over the open connections instead of a deadline per read.
"""

from __future__ import annotations

import enum
import os
from math import inf

import trio
from hypercorn.events import Closed, RawData

MAX_RECV = 2**16  # hypercorn's own read size

_open: set[RawConnection] = set()  # every connection being read by `read_loop`
SWEEP_EVERY = 5.0  # seconds between passes of `drop_silent` (less for short read timeouts)
_shortest = [inf]  # the shortest read timeout of any connection (in this process)


class WriteResult(enum.Enum):
    DONE = "done"  # everything went out in time
    LATE = "late"  # the deadline passed: the frame in progress was finished, later ones dropped
    CLOSING = "closing"  # the WebSocket began closing first: nothing was written
    STALLED = "stalled"  # the peer did not take even the grace: TCP is dropped
    GONE = "gone"  # the socket failed (the peer is gone): TCP is dropped


class RawConnection:
    __slots__ = ("_scope", "close_code", "close_timeout", "closed_by_peer", "dropped",
                 "last_read", "overdue", "read_timeout", "server", "session", "stalled",
                 "write_timeout")

    def __init__(self, server, write_timeout: float, close_timeout: float) -> None:
        self.server = server  # hypercorn's TCPServer
        self.write_timeout = write_timeout
        self.close_timeout = close_timeout
        self.close_code: int | None = None  # of the first close frame encoded
        self.closed_by_peer = False  # that frame echoed the peer's close
        self.dropped = False
        self.overdue = False  # a write passed write_timeout: its frame gets close_timeout
        self.stalled = False  # dropped because the peer did not take a write in time
        self.session = None  # the SocketSession on this connection, once it is open
        self._scope: trio.CancelScope | None = None  # of the write in progress
        self.read_timeout = inf  # hypercorn's config.read_timeout, set by read_loop
        self.last_read = 0.0  # trio time the peer last sent anything (or the loop began)

    @property
    def closing(self) -> bool:
        """A close frame is on its way (or TCP is gone): no data frame may start."""
        return self.close_code is not None or self.dropped

    def closing_with(self, code: int, by_peer: bool) -> None:
        """wsproto encoded a close frame (`by_peer`: in answer to the peer's)."""
        if self.close_code is None:
            self.close_code, self.closed_by_peer = code, by_peer
            if self.session is not None:
                self.session.on_close_frame(code, by_peer)

    def write_now(self, data: bytes) -> int:
        """Write what the socket takes right now, without waiting; how many bytes went out.

        Nothing while hypercorn holds its send lock (a close, a pong, a write still going
        out), once the WebSocket is closing, or on a TLS stream."""
        server = self.server
        stream = server.stream
        if self.closing or server.send_lock.locked() or type(stream) is not trio.SocketStream:
            return 0
        try:
            return os.write(stream.socket.fileno(), data)
        except OSError:  # BlockingIOError included; errors are for the locked path to meet
            return 0

    async def read_loop(self) -> None:
        """hypercorn's `TCPServer._read_data`, without its deadline per read: a connection
        that sends nothing for `read_timeout` is dropped by `drop_silent` instead, and its
        read then fails like hypercorn's did on its timeout."""
        server = self.server
        stream = server.stream
        self.read_timeout = server.config.read_timeout or inf
        self.last_read = trio.current_time()
        _open.add(self)
        _shortest[0] = min(_shortest[0], self.read_timeout)
        try:
            while True:
                try:
                    data = await stream.receive_some(MAX_RECV)
                except (trio.ClosedResourceError, trio.BrokenResourceError):
                    break
                self.last_read = trio.current_time()
                await server.protocol.handle(RawData(bytes(data)))
                if data == b"":
                    break
        finally:
            _open.discard(self)
        await server.protocol.handle(Closed())

    def drop_now(self) -> None:
        """Close the TCP connection at once (no await): a read waiting on it fails with
        ClosedResourceError, a write in progress with an error, and hypercorn ends it."""
        self.dropped = True
        stream = self.server.stream
        sock = getattr(getattr(stream, "transport_stream", stream), "socket", None)
        if sock is not None:
            sock.close()

    async def write_rest(self, frames: list[bytes], written: int) -> WriteResult:
        """Finish a write `write_now` began with `written` bytes of `frames` — or do one it
        could not — under hypercorn's send lock and the write deadline."""
        lock = self.server.send_lock
        if written:
            lock.acquire_nowait()  # no await since write_now: free, and nobody can interleave
        else:
            await lock.acquire()
        try:
            if self.closing and not written:
                return WriteResult.CLOSING
            return await self._write(frames, written)
        finally:
            lock.release()

    async def write_locked(self, data: bytes) -> None:
        """hypercorn's own write (the caller holds the send lock): a close frame gets
        `close_timeout`, anything else `write_timeout`."""
        await self._write([data], 0)

    def hasten(self) -> None:
        """The session is closing: a write in progress gets at most `close_timeout` more."""
        scope = self._scope
        if scope is not None:
            scope.deadline = min(scope.deadline, trio.current_time() + self.close_timeout)

    async def drop(self, stalled: bool = False) -> None:
        """Close the TCP connection (`stalled`: because the peer did not take a write in
        time); hypercorn's read loop then reports the disconnect, maybe before we return."""
        self.stalled = self.stalled or stalled
        self.dropped = True
        with trio.CancelScope(shield=True):
            await self.server.stream.aclose()

    async def _write(self, frames: list[bytes], written: int) -> WriteResult:
        stream = self.server.stream
        if type(stream) is not trio.SocketStream:  # TLS: no partial progress to resume
            return await self._send_all(b"".join(frames)[written:])
        progress = _Progress(frames, written)
        timeout = self.close_timeout if self.closing else self.write_timeout
        if not await self._write_until(progress, stream.socket, timeout):
            await self.drop()
            return WriteResult.GONE
        if progress.done:
            return WriteResult.DONE
        self.overdue = True
        if progress.started:  # mid-frame at the deadline: the grace is for this frame only
            progress.keep_current_only()
            if not await self._write_until(progress, stream.socket, self.close_timeout):
                await self.drop()
                return WriteResult.GONE
            if not progress.done:
                await self.drop(stalled=True)
                return WriteResult.STALLED
        return WriteResult.LATE

    async def _write_until(self, progress: _Progress, sock, timeout: float) -> bool:
        """Write until done or the deadline (shielded); False when the socket failed."""
        with trio.CancelScope(shield=True) as self._scope:
            self._scope.deadline = trio.current_time() + timeout
            try:
                while progress.send_some(sock.fileno()):
                    await trio.lowlevel.wait_writable(sock)
            except (OSError, trio.ClosedResourceError, trio.BusyResourceError):
                return False
            finally:
                self._scope = None
        return True

    async def _send_all(self, data: bytes) -> WriteResult:
        timeout = self.close_timeout if self.closing else self.write_timeout
        failed = False
        with trio.CancelScope(shield=True) as scope:
            self._scope = scope
            scope.deadline = trio.current_time() + timeout
            try:
                await self.server.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError):
                failed = True
        self._scope = None
        if failed or scope.cancelled_caught:
            await self.drop(stalled=not failed)
            return WriteResult.GONE if failed else WriteResult.STALLED
        return WriteResult.DONE


class _Progress:
    """How far a write of several frames got: frame `index`, `offset` bytes into it."""

    __slots__ = ("frames", "index", "offset")

    def __init__(self, frames: list[bytes], written: int) -> None:
        index = 0
        while index < len(frames) and written >= len(frames[index]):
            written -= len(frames[index])
            index += 1
        self.frames, self.index, self.offset = frames, index, written

    @property
    def done(self) -> bool:
        return self.index >= len(self.frames)

    @property
    def started(self) -> bool:
        """Part of the current frame is on the wire (it must be finished)."""
        return self.offset > 0

    def keep_current_only(self) -> None:
        self.frames = self.frames[: self.index + 1]

    def send_some(self, fd: int) -> bool:
        """Write what the socket takes now; True when it is full and more remains."""
        frames = self.frames
        while self.index < len(frames):
            frame = frames[self.index]
            try:
                sent = os.write(fd, memoryview(frame)[self.offset :])
            except BlockingIOError:
                return True
            self.offset += sent
            if self.offset < len(frame):
                return True
            self.index += 1
            self.offset = 0
        return False


def sweep_interval() -> float:
    """How often `drop_silent` should look: every `SWEEP_EVERY` seconds (a pass over 10,000
    connections every second was 1.2 % of F2's CPU), or a quarter of the shortest read
    timeout if that is less, so a silent connection goes within 1.25 of its timeout."""
    return min(SWEEP_EVERY, _shortest[0] / 4)


def drop_silent(now: float) -> int:
    """Drop every connection that has sent nothing for its `read_timeout` (a dead peer, or
    a client stuck mid-request); how many were dropped."""
    silent = [raw for raw in _open if now - raw.last_read > raw.read_timeout]
    for raw in silent:
        _open.discard(raw)
        raw.drop_now()
    return len(silent)


def open_connections() -> int:
    """Connections being read by `read_loop` (in this process)."""
    return len(_open)
