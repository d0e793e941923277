"""One accepted WebSocket: a reader and a writer in one nursery, and its deadlines.

The writer drains the subscription's outbox (already coalesced by key) onto the socket;
a write that cannot complete within `write_timeout` closes the socket with 1013. The
reader handles client frames with the REST rules and answers through the same outbox, so
replies keep their order with pushes. The token's expiry (plus leeway) is the nursery's
deadline and closes with 4401; a server drain closes every session with 1001; a frame
over 4 KiB closes with 1009; a user removed from the directory is closed with 4403
(`ServiceHost.close_sessions_of`). Whoever decides first records the close code and
cancels the nursery (a code decided before it opened cancels it as it opens); the code
is sent once, on the way out, shielded and bounded — also when hypercorn cancels the
handler at shutdown.
"""

from __future__ import annotations

import contextlib
import logging

import orjson
import trio
from pydantic import ValidationError

from presence_actors import ActorUnavailable, NotFound, RateLimited

from . import hypercorn_patch
from .config import MAX_FRAME_BYTES
from .schemas import ClientFrame, PingFrame, StatusFrame

log = logging.getLogger("web")

PONG = orjson.dumps({"type": "pong"})
GOING_AWAY, TOO_BIG, TRY_AGAIN_LATER, TOKEN_EXPIRED, INTERNAL = 1001, 1009, 1013, 4401, 1011
REMOVED = 4403  # the user was removed from the directory


def error_frame(code: str, detail: str) -> bytes:
    return orjson.dumps({"type": "error", "data": {"code": code, "detail": detail}})


class SocketSession:
    def __init__(self, ws, host, identity, device_id: str, sub) -> None:
        self.ws = ws
        self.host = host
        self.service = host.service
        self.identity = identity
        self.user_id = identity.user_id
        self.device_id = device_id
        self.sub = sub
        self.close_code: int | None = None
        self._nursery: trio.Nursery | None = None
        self._writing_since: float | None = None
        self._connection = hypercorn_patch.current_connection()  # None: write through Quart

    async def run(self) -> None:
        self.host.socket_opened()
        try:
            await self.ws.accept()
            # Two tasks per socket: the token's expiry is the nursery's deadline, and a
            # drain closes sessions directly (host.sessions), so neither needs a task.
            expiry = self.identity.expires_at + self.host.verifier.leeway
            self.host.add_session(self)
            try:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    nursery.cancel_scope.deadline = self.host.wall.to_trio(expiry)
                    nursery.start_soon(self._writer)
                    nursery.start_soon(self._reader)
                    if self.host.draining.is_set():
                        self.close(GOING_AWAY)
                    if self.close_code is not None:  # decided before the nursery opened
                        nursery.cancel_scope.cancel()
                if nursery.cancel_scope.cancelled_caught and self.close_code is None:
                    self.close_code = TOKEN_EXPIRED
            finally:
                self.host.discard_session(self)
        finally:
            if self.close_code is None and self._write_overdue():
                self.close_code = TRY_AGAIN_LATER  # web.hypercorn_patch dropped the stalled socket
            with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                await self._send_close(self.close_code or GOING_AWAY)
            self.host.socket_closed(self.close_code)

    def close(self, code: int) -> None:
        if self.close_code is None:
            self.close_code = code
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def _send_close(self, code: int) -> None:
        try:
            await self.ws.close(code)
        except Exception:  # already closed, or the peer is gone: nothing left to tell it
            log.debug("close %d not sent", code, exc_info=True)

    async def _send(self, frames: list[bytes]) -> None:
        """Write frames in order: one batch on hypercorn's fast path, else one by one."""
        connection = self._connection
        if connection is not None:
            data = hypercorn_patch.encode_text_frames(frames)
            written = hypercorn_patch.write_now(connection, data)
            if written == len(data):
                return  # the common case: the socket had room, nothing to wait for
        self._writing_since = trio.current_time()
        with trio.move_on_after(self.host.settings.write_timeout):
            if connection is not None:
                await hypercorn_patch.send_rest(connection, data, written)
            else:
                for frame in frames:
                    await self.ws.send(frame.decode())
        if self._write_overdue():  # timed out here, or web.hypercorn_patch dropped the socket
            self.close(TRY_AGAIN_LATER)
        self._writing_since = None

    def _write_overdue(self) -> bool:
        started = self._writing_since
        timeout = self.host.settings.write_timeout
        return started is not None and trio.current_time() - started >= timeout

    async def _writer(self) -> None:
        # Drop the initial frame once sent: orjson's bytes keep ~4 KB of capacity.
        frame, self.sub.initial_frame = self.sub.initial_frame, b""
        await self._send([frame])
        del frame
        while True:
            try:
                batch = await self.sub.outbox.next_batch()
            except trio.EndOfChannel:  # the service closed this subscription (shutdown)
                self.close(GOING_AWAY)
                return
            await self._send(batch)

    async def _reader(self) -> None:
        while True:
            message = await self.ws.receive()
            # quart-trio hands an empty binary frame over as None (`bytes or text`)
            data = message.encode() if isinstance(message, str) else (message or b"")
            if len(data) > MAX_FRAME_BYTES:
                self.close(TOO_BIG)
                return
            reply = await self._answer(data)
            if reply is not None:
                self.sub.outbox.offer_reply("pong" if reply is PONG else "error", reply)

    async def _answer(self, data: bytes) -> bytes | None:
        """Apply one client frame; the reply frame, if any."""
        user, device = self.identity.user_id, self.device_id
        try:
            frame = _parse(data)
            with trio.fail_after(self.host.settings.request_timeout + 1.0):
                if isinstance(frame, StatusFrame):
                    await self.service.set_status(user, device, frame.status)
                    return None
                await self.service.touch(user, device)
                if isinstance(frame, PingFrame):
                    return PONG
                await self.service.set_typing(user, frame.conversation_id, frame.is_typing)
                return None
        except _BadFrame as error:
            await self._touch_quietly()
            return error_frame("invalid_frame", str(error))
        except RateLimited as error:
            self.host.metrics.rate_limited.labels("websocket").inc()
            detail = f"Too many requests; retry after {error.retry_after} s"
            return error_frame("rate_limited", detail)
        except NotFound:
            return error_frame("not_found", "Not found")
        except (ActorUnavailable, trio.TooSlowError):
            return error_frame("unavailable", "Service temporarily unavailable")

    async def _touch_quietly(self) -> None:
        with trio.move_on_after(self.host.settings.request_timeout):
            with contextlib.suppress(ActorUnavailable):
                await self.service.touch(self.identity.user_id, self.device_id)


class _BadFrame(ValueError):
    pass


def _parse(data: bytes):
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise _BadFrame("Frame is not valid JSON") from None
    try:
        return ClientFrame.model_validate({"frame": document}).frame
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "frame"
        raise _BadFrame(f"{where}: {first['msg']}") from None
