"""One WebSocket on `/api/presence/subscribe`, driven by its messages; it owns no task.

`deliver(message)` is called with each ASGI message for the socket: by hypercorn's own
read loop (the direct route, web/hypercorn_patch.py), or by a small ASGI loop elsewhere
(web/subscribe.py) — one code path either way. `connect` admits (web/admission.py) or
refuses before the upgrade; `receive` applies a client frame (`client_frames.answer`);
`disconnect` ends the subscription. Writing is the pump's (web/pump.py): when a frame
lands in the outbox, the outbox calls the session, the session queues itself on the pump,
and the pump puts the whole coalesced batch on the socket with one non-blocking write — a
task only for a write the socket cannot take at once, which has `write_timeout` (else
1013). The pump also pings the socket and closes it when its token expires. So an idle
socket costs hypercorn's read loop and a few objects: no task, queue or deadline of ours.

Closing: whoever decides first records the code — 1001 drain, 1008 frame flood, 1009 a
frame over 4 KiB, 1011 a bug, 1013 the peer does not take writes, 4401 token expired, 4403
removed from the directory — and no data frame starts after that. A short task sends the
close frame through hypercorn (after any write in progress) and gives the peer
`close_timeout` to answer before TCP is dropped. Reading goes on to the end.
"""

from __future__ import annotations

import contextlib
import enum
import logging

import trio

from presence_actors import ActorUnavailable, NotFound, TooManySockets

from . import client_frames, frames
from .admission import Admitted, admit, refusal_messages
from .config import MAX_FRAME_BYTES
from .errors import error_response, rate_limited, unauthorized, unavailable
from .frame_limit import Verdict, fresh_budget, spend
from .raw_connection import WriteResult

log = logging.getLogger("web")

GOING_AWAY, POLICY, TOO_BIG, INTERNAL, TRY_AGAIN_LATER = 1001, 1008, 1009, 1011, 1013
TOKEN_EXPIRED, REMOVED = 4401, 4403
ABNORMAL = 1006  # hypercorn's disconnect code for a connection lost without a close


class SessionState(enum.Enum):
    ADMITTING = "admitting"  # before the upgrade
    OPEN = "open"
    CLOSING = "closing"  # a close code is decided; the close frame is on its way
    CLOSED = "closed"  # refused, or the peer is gone: the session is over


class Writing(enum.Enum):
    IDLE = "idle"  # waiting for the outbox to call
    QUEUED = "queued"  # on the pump's list
    BLOCKED = "blocked"  # a write the socket did not take at once has a task


class SocketSession:
    __slots__ = ("__weakref__", "_budget", "_ended", "_first", "_posted", "_reserved",
                 "_subscription", "close_code", "device_id", "direct", "expiry", "host", "outbox",
                 "ping_due", "raw", "scope", "send", "state", "user_id", "writing")

    def __init__(self, host, scope: dict, send, raw=None, direct: bool = False) -> None:
        self.host, self.scope, self.send, self.raw = host, scope, send, raw
        self.direct = direct  # driven by hypercorn's read loop: it needs send(None) to finish
        self.state = SessionState.ADMITTING
        self.writing = Writing.IDLE
        self.close_code: int | None = None
        self.ping_due = self._reserved = False
        self.user_id, self.device_id, self.expiry = 0, "", 0.0
        self.outbox = self._subscription = self._first = self._ended = None
        self._posted = None  # the last status frame's request, until the next frame
        self._budget = fresh_budget(trio.current_time(), host.settings.ws_frame_burst)

    @property
    def is_open(self) -> bool:
        return self.state is SessionState.OPEN

    async def deliver(self, message: dict) -> None:
        """Act on one ASGI message. Never raises: hypercorn's read loop calls this, and an
        exception there would end the server, not the socket."""
        kind = message["type"]
        try:
            if kind == "websocket.receive":
                if self.state is SessionState.OPEN:
                    await self._handle(message.get("bytes") or
                                       (message.get("text") or "").encode())
            elif kind == "websocket.connect":
                await self._open()
            elif kind == "websocket.disconnect":
                if message.get("code") == ABNORMAL and self.state is SessionState.OPEN:
                    self.outbox.vanished = True  # gone without a close: no activity
                await self.end()
        except Exception:
            log.exception("websocket session failed on %s", kind)
            with contextlib.suppress(Exception):
                if self.state is SessionState.ADMITTING:
                    await self._refuse(error_response(500, "Internal Server Error"))
                self.close(INTERNAL)

    def close(self, code: int | None) -> None:
        """Decide to close with `code` (the first decision wins; None: the peer closed
        first) and start closing."""
        if self.state is not SessionState.OPEN:
            return
        self.state, self.close_code = SessionState.CLOSING, code
        self._ended = trio.Event()
        if self.raw is not None:
            self.raw.hasten()
        self.host.pump.spawn(self._closing)

    async def end(self) -> None:
        """The peer is gone, or hypercorn dropped the connection: leave the subscription
        and count the close. Idempotent."""
        if self.state is SessionState.CLOSED:
            return
        if self.close_code is None and self.raw is not None and self.raw.stalled:
            self.close_code = TRY_AGAIN_LATER  # dropped for not taking writes, not the peer
        self.state = SessionState.CLOSED
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            try:
                with trio.CancelScope(shield=True):
                    await subscription.__aexit__(None, None, None)
            except Exception:  # a bug in the core; the socket is gone all the same
                log.exception("leaving the subscription failed")
            self.host.socket_closed(self)
        if self._reserved:
            self._reserved = False
            self.host.release_socket()
        if self._ended is not None:
            self._ended.set()

    # --- opening -------------------------------------------------------------------------

    async def _open(self) -> None:
        host = self.host
        refusal = host.reserve_socket()
        if refusal is not None:
            await self._refuse(unavailable(refusal))
            return
        self._reserved = True
        try:
            admitted = await admit(host, self.scope)
            if isinstance(admitted, Admitted):
                admitted = await self._subscribe(admitted)
        except TooManySockets:
            admitted = rate_limited(1)
        except NotFound:  # removed from the directory since the token was checked
            admitted = unauthorized("Unknown user")
        except (ActorUnavailable, trio.TooSlowError):
            admitted = unavailable()
        if admitted is not None:
            await self._refuse(admitted)
            return
        await self.send({"type": "websocket.accept"})
        self.scope["headers"], self.scope = [], None  # admitted and logged: not read again
        if self.raw is not None:
            self.raw.session = self
        self.writing = Writing.QUEUED
        self.flush()  # initial_state first, then whatever the outbox holds

    async def _subscribe(self, admitted: Admitted) -> None:
        """Enter the subscription (None: subscribed; the socket counts as open from here).

        Raises:
            TooManySockets, NotFound, ActorUnavailable, trio.TooSlowError: from the
                service (NotFound: the user left the directory since admission).
        """
        identity = admitted.identity
        self.user_id, self.device_id = identity.user_id, admitted.device_id
        self.expiry = self.host.wall.to_trio(identity.expires_at + self.host.verifier.leeway)
        subscription = self.host.service.subscribe(self.user_id, self.device_id)
        self.outbox = (sub := await subscription.__aenter__()).outbox
        self._subscription = subscription  # exited by end(), in the same task
        self._first, sub.initial_frame = sub.initial_frame, b""  # bytes with ~4 KB to spare
        self.state = SessionState.OPEN
        self.host.socket_opened(self)

    async def _refuse(self, response) -> None:
        self.host.metrics.rejected_sockets.labels(str(response.status_code)).inc()
        for message in await refusal_messages(response, self.scope):
            await self.send(message)
        await self.end()
        if self.direct:
            await self.send(None)  # "the app is done": hypercorn finishes the response

    # --- reading -------------------------------------------------------------------------

    async def _handle(self, data: bytes) -> None:
        host = self.host
        if len(data) > MAX_FRAME_BYTES:
            self.close(TOO_BIG)
            return
        settings = host.settings
        posted, self._posted = self._posted, None
        if posted is not None and not posted.decided:  # an overloaded node: read no further
            await posted.wait(settings.request_timeout)  # ahead of it than one status frame
        self._budget, verdict = spend(self._budget, trio.current_time(),
                                      settings.ws_frame_rate, settings.ws_frame_burst)
        if verdict is not Verdict.ACCEPT:
            host.metrics.frames_refused.inc()
            if verdict is Verdict.CLOSE:
                self.close(POLICY)
            else:
                self.outbox.offer_reply("error", client_frames.RATE_LIMITED_FRAMES)
            return
        reply = await client_frames.answer(
            host.service, self.user_id, self.device_id, data, settings.request_timeout,
            host.metrics.rate_limited.labels("websocket").inc, self._reply_error,
            self._remember_post)
        if reply is not None:
            self.outbox.offer_reply("pong" if reply is client_frames.PONG else "error", reply)

    def _remember_post(self, slot) -> None:
        self._posted = slot

    def _reply_error(self, frame: bytes) -> None:
        """An error frame decided after `answer` returned (a refused status post)."""
        if self.state is SessionState.OPEN:
            self.outbox.offer_reply("error", frame)

    # --- closing -------------------------------------------------------------------------

    async def _closing(self) -> None:
        """Send the close frame; let the peer answer within close_timeout, else drop TCP."""
        await self.say_goodbye()
        with trio.move_on_after(self.host.settings.close_timeout):
            await self._ended.wait()
        if not self._ended.is_set() and self.raw is not None:
            await self.raw.drop()  # hypercorn's read loop then reports the disconnect

    async def say_goodbye(self) -> None:
        """The close frame with `close_code`, unless one is on its way already."""
        if self.raw is not None and self.raw.closing:
            return  # hypercorn has sent one, or TCP is gone
        timeout = self.host.settings.close_timeout
        with trio.move_on_after(timeout if self.raw is None else 3 * timeout):
            await self.send({"type": "websocket.close", "code": self.close_code or GOING_AWAY})

    def on_close_frame(self, code: int, by_peer: bool) -> None:
        """hypercorn encoded a close frame: the session's own, its own (1002/1007/1009),
        or its answer to the peer's close. No data frame starts after it, and the peer
        gets close_timeout to answer (the same `_closing`, which sends nothing more)."""
        if self.state is SessionState.OPEN:
            self.close(None if by_peer else code)

    # --- writing (called by the outbox, the pump, and write tasks) ------------------------

    def on_ready(self) -> None:
        """The outbox has frames: get on the pump's list (once)."""
        if self.writing is Writing.IDLE:
            self.writing = Writing.QUEUED
            self.host.pump.schedule(self)

    def ping(self, quiet_since: float) -> None:
        """The pump's turn to ping this socket (a direct write: HTTP/1.1 only), unless the
        peer sent something after `quiet_since`: it is alive, a ping would only cost a
        write and a pong to read."""
        raw = self.raw
        if raw is not None and self.state is SessionState.OPEN and raw.last_read <= quiet_since:
            self.ping_due = True
            self.on_ready()

    def flush(self) -> None:
        """Write what is waiting; a write the socket does not take at once gets a task."""
        if self.state is not SessionState.OPEN:
            self.writing = Writing.IDLE
            return
        payloads = self._take()
        if payloads is None:
            return
        raw = self.raw
        encoded = self.host.pump.frames_of(payloads) if raw is not None else payloads
        if self.ping_due:
            self.ping_due = False
            encoded.insert(0, frames.PING_FRAME)
        data = encoded[0] if len(encoded) == 1 else b"".join(encoded)
        written = raw.write_now(data) if raw is not None else 0
        if written == len(data):
            self.writing = Writing.IDLE
            self.outbox.when_ready(self.on_ready)
            return
        self.writing = Writing.BLOCKED
        if not self.host.pump.spawn(self._write_rest, encoded, written):
            self.writing = Writing.IDLE  # the pump has stopped: nothing more is written

    def _take(self) -> list[bytes] | None:
        """The frames to write now ([] for a lone ping); None when there is nothing."""
        try:
            payloads = self.outbox.take_nowait()
        except trio.EndOfChannel:  # the service closed this subscription (shutdown)
            self.writing = Writing.IDLE
            self.close(GOING_AWAY)
            return None
        if self._first is not None:
            payloads.insert(0, self._first)
            self._first = None
        if not payloads and not self.ping_due:
            self.writing = Writing.IDLE
            self.outbox.when_ready(self.on_ready)
            return None
        return payloads

    async def _write_rest(self, encoded: list[bytes], written: int) -> None:
        if self.raw is not None:
            result = await self.raw.write_rest(encoded, written)
        else:
            result = await self._send_through_asgi(encoded)
        if result is WriteResult.DONE:
            self.writing = Writing.QUEUED
            self.flush()  # whatever came meanwhile
            return
        self.writing = Writing.IDLE
        if result is WriteResult.LATE:
            self.close(TRY_AGAIN_LATER)  # at a frame boundary: a close frame can follow
        elif result is WriteResult.STALLED and self.state is SessionState.OPEN:
            self.state, self.close_code = SessionState.CLOSING, TRY_AGAIN_LATER  # TCP dropped

    async def _send_through_asgi(self, payloads: list[bytes]) -> WriteResult:
        """No direct path (another server, HTTP/2): one ASGI message per frame."""
        with trio.move_on_after(self.host.settings.write_timeout):
            for payload in payloads:
                await self.send({"type": "websocket.send", "text": payload.decode()})
            return WriteResult.DONE
        return WriteResult.LATE
