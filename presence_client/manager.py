"""`PresenceManager`: the seed's iOS PresenceManager on trio (SPEC §14).

| app state  | status  | what runs                                                 |
|------------|---------|-----------------------------------------------------------|
| foreground | online  | heartbeat, WebSocket (view kept in sync)                  |
| background | away    | the final `away` goes out; heartbeat and socket stop      |
| terminated | —       | nothing is sent: the server times the device out          |

A 401 or a close 4401 or 4403 stops every update (status, heartbeat, socket, typing) until
`handle_login(token)`; `handle_logout()` sends `offline` and clears the view.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from enum import Enum

import trio

from .api import PresenceApi, PresenceApiError
from .models import PresenceStatus, SessionExpired, UserPresence
from .network import NetworkTransport
from .push_channel import PushChannel
from .status_sender import StatusSender
from .timing import ClientTiming
from .transport import Transport
from .typing_reporter import TypingReporter
from .view import LocalView

log = logging.getLogger("presence_client")

DEVICE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class AppState(Enum):
    INACTIVE = "inactive"  # started, neither foreground nor background yet
    FOREGROUND = "foreground"
    BACKGROUND = "background"
    TERMINATED = "terminated"


class SessionState(Enum):
    LOGGED_OUT = "logged_out"
    ACTIVE = "active"
    EXPIRED = "expired"  # a 401, 4401 or 4403: nothing is sent until the next login


def new_device_id() -> str:
    """A device key for one client instance (SPEC §5: 1-64 of `[A-Za-z0-9._-]`)."""
    return "py-" + secrets.token_hex(8)


class PresenceManager:
    """One signed-in device's presence. Build it with `open_presence_manager`."""

    def __init__(self, transport: Transport, nursery: trio.Nursery, *,
                 device_id: str | None = None, timing: ClientTiming | None = None) -> None:
        self.device_id = new_device_id() if device_id is None else device_id
        if not DEVICE_ID.fullmatch(self.device_id):
            raise ValueError(f"device_id must be 1-64 of [A-Za-z0-9._-]: {self.device_id!r}")
        self.timing = timing or ClientTiming()
        self.view = LocalView()
        self.api = PresenceApi(transport, self.device_id, self.timing.request_timeout)
        self.app_state = AppState.INACTIVE
        self.session_state = SessionState.LOGGED_OUT
        self._token: str | None = None
        self._nursery = nursery
        self._status = StatusSender(self.api, self.timing, self)
        self._typing = TypingReporter(self.api, self.timing, self)
        self.transport = transport
        self._push: PushChannel | None = None

    # -- what the loops read and report (the `Session` protocol) --

    @property
    def token(self) -> str | None:
        return self._token if self.session_state is SessionState.ACTIVE else None

    def unauthorized(self, reason: str) -> None:
        if self.session_state is not SessionState.ACTIVE:
            return
        log.warning("presence session expired: %s", reason)
        self.session_state = SessionState.EXPIRED
        self._typing.forget()
        self._sync()
        self.view.publish([SessionExpired(reason)])

    def network_back(self) -> None:
        self._status.network_back()

    def socket_lost(self) -> None:
        # Without it, a device whose socket drops would outlive only the server's
        # disconnect grace (10 s) before the next heartbeat (up to 30 s) and flap offline.
        self._status.beat_soon()

    # -- the app's calls --

    @property
    def connected(self) -> bool:
        """The push channel is up and the view is in sync with the server."""
        return self._push is not None and self._push.connected

    def foreground(self) -> None:
        """The app is in front: `online`, heartbeat, WebSocket. Raises: trio.ClosedResourceError."""
        self._check_open()
        if self.app_state is AppState.FOREGROUND:
            return
        self.app_state = AppState.FOREGROUND
        if self.session_state is SessionState.ACTIVE:
            self._status.request(PresenceStatus.ONLINE)
        self._sync()

    def background(self) -> None:
        """The app left the screen: a final `away`, no heartbeat, no socket.

        Raises: trio.ClosedResourceError after `terminate()`.
        """
        self._check_open()
        was_foreground = self.app_state is AppState.FOREGROUND
        self.app_state = AppState.BACKGROUND
        if was_foreground and self.session_state is SessionState.ACTIVE:
            self._status.request(PresenceStatus.AWAY)
        self._sync()

    def terminate(self) -> None:
        """The app is gone: stop everything and send nothing (the server's TTL expires it)."""
        self.app_state = AppState.TERMINATED
        self._nursery.cancel_scope.cancel()

    def handle_login(self, token: str) -> None:
        """Use `token` from now on and resume. Raises: trio.ClosedResourceError."""
        self._check_open()
        self._token = token
        self.session_state = SessionState.ACTIVE
        if self.app_state is AppState.FOREGROUND:
            self._status.request(PresenceStatus.ONLINE)
        self._restart_push()
        self._status.poke()

    async def handle_logout(self) -> None:
        """Send `offline` (bounded by the request timeout), then forget the session and view.

        Raises: trio.ClosedResourceError after `terminate()`.
        """
        self._check_open()
        if self.session_state is SessionState.ACTIVE:
            self._status.request(PresenceStatus.OFFLINE)
            with trio.move_on_after(self.timing.request_timeout):
                await self._status.settled()
        self.session_state = SessionState.LOGGED_OUT
        self._token = None
        self._status.forget()
        self._typing.forget()
        self._sync()
        self.view.clear()

    def update_status(self, status: PresenceStatus | str) -> None:
        """Queue a status; sent when the 5 s rate limit allows, the latest one winning.

        Raises: ValueError (not a status), trio.ClosedResourceError after `terminate()`.
        """
        self._check_open()
        self._status.request(PresenceStatus(status))

    def keystroke(self, conversation_id: int) -> None:
        """A key was pressed in the conversation's message field (the typing helper)."""
        self._check_open()
        self._typing.keystroke(conversation_id)

    def stop_typing(self, conversation_id: int) -> None:
        """The message was sent or the field emptied: `false` as soon as the debounce allows."""
        self._check_open()
        self._typing.stop(conversation_id)

    async def fetch_presences(self, user_ids: Iterable[int] | None = None) -> list[UserPresence]:
        """GET the visible users (or those among `user_ids`).

        Raises: PresenceApiError (also when not logged in), trio.ClosedResourceError.
        """
        return await self.api.get_presences(self._require_token(), user_ids)

    async def fetch_presence(self, user_id: int) -> UserPresence:
        """GET one user (404 when unknown or invisible).

        Raises: PresenceApiError (also when not logged in), trio.ClosedResourceError.
        """
        return await self.api.get_presence(self._require_token(), user_id)

    # -- internals --

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._status.run)
            nursery.start_soon(self._typing.run)
            task_status.started()

    def _sync(self) -> None:
        """Start or stop what 'foreground and logged in' means: heartbeat and socket."""
        live = self.app_state is AppState.FOREGROUND and self.token is not None
        self._status.heartbeat(live)
        if live and self._push is None:
            self._push = PushChannel(self.transport, self.view, self.timing, self,
                                     self.device_id)
            self._nursery.start_soon(self._push.run)
        elif not live and self._push is not None:
            self._push.stop()
            self._push = None

    def _restart_push(self) -> None:
        """A new token: reconnect with it (the old socket would close with 4401 at its exp)."""
        if self._push is not None:
            self._push.stop()
            self._push = None
        self._sync()

    def _check_open(self) -> None:
        if self.app_state is AppState.TERMINATED:
            raise trio.ClosedResourceError("the presence manager was terminated")

    def _require_token(self) -> str:
        self._check_open()
        if self.token is None:
            raise PresenceApiError(None, f"no session ({self.session_state.value}): log in")
        return self.token


@asynccontextmanager
async def open_presence_manager(
    service: str | Transport, *, device_id: str | None = None,
    timing: ClientTiming | None = None,
) -> AsyncIterator[PresenceManager]:
    """A running `PresenceManager` for the service at a URL (or over a given transport).

    Leaving the block terminates it (nothing is sent). A URL gets a `NetworkTransport`,
    closed on exit; a given transport is the caller's to close.

    Raises: ValueError (a malformed `device_id`).
    """
    timing = timing or ClientTiming()
    owned = NetworkTransport(service, timeout=timing.request_timeout) \
        if isinstance(service, str) else None
    try:
        async with trio.open_nursery() as nursery:
            manager = PresenceManager(owned or service, nursery, device_id=device_id,
                                      timing=timing)
            await nursery.start(manager.run)
            try:
                yield manager
            finally:
                manager.terminate()
    except BaseExceptionGroup as group:
        # One error from the caller's block or a loop: raise it as itself, not in a group.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        if owned is not None:
            with trio.CancelScope(shield=True):
                await owned.aclose()
