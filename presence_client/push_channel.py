"""The WebSocket push channel: connect, keep the view in sync, reconnect with backoff.

Runs while the app is in the foreground and logged in; `background()` stops it, which
closes the socket with 1000. Reconnects wait
`min(reconnect_max, reconnect_base * 2^attempt)` (the seed's 1, 2, 4, 8, 16, 16 s); a
connection that stayed up `healthy_after` seconds resets the count, so a server that
accepts and drops at once is not hammered. A silent socket is probed with a `ping`
frame after `heartbeat_interval` and given up after another one without a frame.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass

import trio

from ._wakeup import Session
from .api import HttpResponse, retry_after
from .models import ConnectionChanged, FrameError
from .timing import ClientTiming
from .transport import SocketClosed, Transport, TransportError, UpgradeRejected, WebSocket
from .view import LocalView

log = logging.getLogger("presence_client")

PING = json.dumps({"type": "ping"})
# Close codes after which this token will only meet 401s: stop until the next login.
SESSION_OVER = {
    4401: "WebSocket closed with 4401 (token expired)",
    4403: "WebSocket closed with 4403 (removed from the directory)",
}


@dataclass(frozen=True)
class Ended:
    """How one connection attempt ended."""

    healthy: bool = False  # it was up long enough to reset the backoff
    retry_after: float = 0.0  # the server asked for at least this long (429)
    stop: bool = False  # the session is over (401 / 4401 / 4403): no reconnect


class PushChannel:
    def __init__(self, transport: Transport, view: LocalView, timing: ClientTiming,
                 session: Session, device_id: str) -> None:
        self.transport = transport
        self.view = view
        self.timing = timing
        self.session = session
        self.path = f"/api/presence/subscribe?device_id={device_id}"
        self.connected = False
        self.stopped = False
        self._waiting = trio.CancelScope()  # around connects and backoff waits
        self._reading: trio.CancelScope | None = None  # around reading an open socket

    def stop(self) -> None:
        """End the channel: a socket closes with 1000 (its reader still running), a connect
        or a backoff wait is abandoned. `terminate()` cancels instead: nothing is said."""
        self.stopped = True
        (self._reading or self._waiting).cancel()

    async def run(self) -> None:
        """Connect and reconnect until stopped, cancelled, or the session ends."""
        attempt = 0
        with self._waiting:
            while True:
                ended = await self._connect_once()
                if ended.stop or self.stopped:
                    return
                attempt = 0 if ended.healthy else attempt
                delay = max(self.timing.reconnect_delay(attempt), ended.retry_after)
                attempt += 1
                self.view.publish([ConnectionChanged(False, delay)])
                await trio.sleep(delay)

    async def _connect_once(self) -> Ended:
        token = self.session.token
        if token is None:
            return Ended(stop=True)
        headers = {"Authorization": f"Bearer {token}"}
        synced = False
        try:
            async with self.transport.open_websocket(self.path, headers=headers) as ws:
                self._reading = trio.CancelScope()
                try:
                    with self._reading:
                        return await self._receive(ws)
                    return Ended(stop=True)  # stopped: leave the block, which closes
                finally:
                    self._reading = None
                    synced, self.connected = self.connected, False
        except TransportError as error:
            return self._rejected(error)
        finally:
            # Only once the socket is closed: a heartbeat the server saw before the close
            # would leave the device just the close's grace, not the online TTL.
            if synced and not self.stopped:
                self.session.socket_lost()

    def _rejected(self, error: Exception) -> Ended:
        if isinstance(error, UpgradeRejected) and error.status == 401:
            self.session.unauthorized("WebSocket upgrade answered 401")
            return Ended(stop=True)
        log.info("presence channel: connect failed: %s", error)
        if isinstance(error, UpgradeRejected) and error.status in (429, 503):
            return Ended(retry_after=retry_after(HttpResponse(error.status, error.headers)))
        return Ended()

    async def _receive(self, ws: WebSocket) -> Ended:
        """Read frames until the socket closes or goes silent."""
        synced_at: float | None = None
        pinged = False
        while True:
            text = None
            with trio.move_on_after(self.timing.heartbeat_interval):
                try:
                    text = await ws.receive()
                except SocketClosed as closed:
                    return self._closed(closed, synced_at)
            if text is None and pinged:
                log.info("presence channel: no answer to ping, reconnecting")
                return Ended(healthy=self._healthy(synced_at))
            if text is None:
                pinged = await self._ping(ws)
                continue
            pinged = False
            if self._apply(text) and synced_at is None:
                synced_at = trio.current_time()

    async def _ping(self, ws: WebSocket) -> bool:
        with contextlib.suppress(SocketClosed):  # the next receive reports the close
            await ws.send(PING)
        return True

    def _apply(self, text: str) -> bool:
        """Apply one frame to the view; True for `initial_state`."""
        try:
            message = json.loads(text)
            initial = isinstance(message, dict) and message.get("type") == "initial_state"
            if initial:
                self.connected = True
                self.view.publish([ConnectionChanged(True)])
            self.view.apply(message)
        except (ValueError, FrameError) as error:
            log.warning("presence channel: ignored a malformed frame: %s", error)
            return False
        if initial:
            self.session.network_back()
        return initial

    def _closed(self, closed: SocketClosed, synced_at: float | None) -> Ended:
        if closed.code in SESSION_OVER:
            self.session.unauthorized(SESSION_OVER[closed.code])
            return Ended(stop=True)
        log.info("presence channel: closed (%s)", closed.code)
        return Ended(healthy=self._healthy(synced_at))

    def _healthy(self, synced_at: float | None) -> bool:
        return synced_at is not None and (
            trio.current_time() - synced_at >= self.timing.healthy_after)
