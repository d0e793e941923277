"""Virtual clients: one device of one user, speaking the real HTTP and WebSocket API.

A `VirtualClient` sends what an app would send (its token, its `X-Device-ID`) through a
`presence_client.Transport`: the kit's in-memory one to the real app on the mock clock,
or a `NetworkTransport` to a real server. Every rule (device keys, rate limits, 404s,
frames) is the server's own code, so the kit cannot drift from the API: there is one
code path for the rules. Each call returns once the service has settled (`settle`), so
every push it caused is already in the `VirtualSocket`s' frames.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
import trio

from presence_client import PresenceApiError
from presence_client.transport import HttpResponse, SocketClosed, Transport, UpgradeRejected

SUBSCRIBE = "/api/presence/subscribe"


class ApiError(PresenceApiError):
    """The service answered a virtual client's call with an error status.

    `status` (401, 404, 422, 429, 503...), `detail` (the body's `detail`), `headers`
    (lower-case names) and `retry_after` (whole seconds from `Retry-After`, or None)."""

    def __init__(self, status: int, body: object, headers: Mapping[str, str]) -> None:
        detail = body.get("detail") if isinstance(body, dict) else body
        super().__init__(status, detail)
        self.body = body
        self.headers = dict(headers)
        retry = self.headers.get("retry-after")
        self.retry_after = int(retry) if retry is not None and retry.isdigit() else None


class VirtualClient:
    """One device of one user. Build it with `PresenceKit.client`."""

    def __init__(self, transport: Transport, nursery: trio.Nursery, user_id: int, token: str,
                 device: str | None, settle: Callable[[], Awaitable[None]]) -> None:
        self.transport = transport
        self.user_id = user_id
        self.token = token
        self.device = device
        self.sockets: list[VirtualSocket] = []
        self._nursery = nursery
        self._settle = settle

    @property
    def headers(self) -> dict[str, str]:
        """What every request of this client carries: the token, and the device if set."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.device is not None:
            headers["X-Device-ID"] = self.device
        return headers

    async def request(self, method: str, path: str, *, json: object = None,
                      headers: Mapping[str, str] | None = None) -> HttpResponse:
        """Any request, answered as it came (never raises on a status); `headers` replace
        the client's own.

        Raises:
            presence_client.TransportError: no answer within the transport's timeout.
        """
        response = await self.transport.request(
            method, path, headers=self.headers if headers is None else headers, json=json)
        await self._settle()
        return response

    async def _call(self, method: str, path: str, json: object = None) -> Any:
        response = await self.request(method, path, json=json)
        if not 200 <= response.status < 300:
            raise ApiError(response.status, response.body, response.headers)
        return response.body

    async def set_status(self, status: str) -> dict:
        """`POST /api/presence/status`: the user's aggregate record.

        Raises:
            ApiError: 422 (a bad status or device id), 429 (`retry_after`), 401.
        """
        return await self._call("POST", "/api/presence/status", {"status": str(status)})

    async def typing(self, conversation_id: int, is_typing: bool = True) -> dict:
        """`POST /api/conversations/{id}/typing`.

        Raises:
            ApiError: 404 (not a participant), 429 (`retry_after`), 422, 401.
        """
        return await self._call("POST", f"/api/conversations/{conversation_id}/typing",
                                {"is_typing": is_typing})

    async def presence(self, user_id: int) -> dict:
        """`GET /api/presence/users/{id}`.

        Raises:
            ApiError: 404 (unknown or invisible), 422, 401.
        """
        return await self._call("GET", f"/api/presence/users/{user_id}")

    async def presences(self, user_ids: list[int] | None = None) -> list[dict]:
        """`GET /api/presence/users`, every visible user or the visible ones of `user_ids`.

        Raises:
            ApiError: 422, 401.
        """
        query = "" if user_ids is None else "?user_ids=" + ",".join(map(str, user_ids))
        return await self._call("GET", "/api/presence/users" + query)

    async def subscribe(self, *, query: str = "",
                        headers: Mapping[str, str] | None = None) -> VirtualSocket:
        """Open `/api/presence/subscribe`; returns once `initial_state` has arrived.
        `query` (e.g. `"token=..."`) and `headers` replace what the client would send.

        Raises:
            ApiError: the upgrade was refused (401, 422, 429, 503).
            presence_client.SocketClosed: the server closed before `initial_state`.
        """
        path = SUBSCRIBE + (f"?{query}" if query else "")
        socket = VirtualSocket(self, self._settle)
        try:
            await self._nursery.start(socket.run, path,
                                      self.headers if headers is None else headers)
        except UpgradeRejected as rejected:
            raise ApiError(rejected.status, rejected.body, rejected.headers) from None
        self.sockets.append(socket)
        await self._settle()
        return socket


class VirtualSocket:
    """One open `/api/presence/subscribe`, recording every frame it receives, decoded.

    `initial_state` is the first frame; `frames` all of them in order; `take()` the ones
    that came since the last `take()` (the initial state excluded). `close_code` is the
    code the server closed with (None while open or after our own `close()`)."""

    def __init__(self, client: VirtualClient, settle: Callable[[], Awaitable[None]]) -> None:
        self.client = client
        self.frames: list[dict] = []
        self.initial_state: dict | None = None
        self.close_code: int | None = None
        self.closed = False
        self._taken = 1  # frames[0] is the initial state
        self._settle = settle
        self._socket: Any = None
        self._scope = trio.CancelScope()
        self._done = trio.Event()
        self._arrived = trio.Event()

    async def run(self, path: str, headers: Mapping[str, str],
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The socket's reader task (in the kit's nursery): connect, then record frames."""
        try:
            with self._scope:
                async with self.client.transport.open_websocket(path, headers=headers) as ws:
                    self._socket = ws
                    self._record(await ws.receive())
                    self.initial_state = self.frames[0]
                    task_status.started()
                    while True:
                        self._record(await ws.receive())
        except SocketClosed as closed:
            if not self._scope.cancel_called:
                self.close_code = closed.code
        finally:
            self.closed = True
            self._done.set()
            self._arrived.set()

    def _record(self, text: str) -> None:
        self.frames.append(orjson.loads(text))
        self._arrived.set()
        self._arrived = trio.Event()

    def take(self) -> list[dict]:
        """The frames received since the last `take()` (the initial state excluded)."""
        new = self.frames[self._taken:]
        self._taken = len(self.frames)
        return new

    async def next_frame(self, timeout: float = math.inf) -> dict:
        """Wait for the next frame not yet taken and take it (time passes on MockClock).

        Raises:
            SocketClosed: the socket closed first. trio.TooSlowError: after `timeout`.
        """
        with trio.fail_after(timeout):
            while len(self.frames) <= self._taken:
                if self.closed:
                    raise SocketClosed(self.close_code)
                await self._arrived.wait()
        self._taken += 1
        return self.frames[self._taken - 1]

    async def send(self, frame: Mapping | str) -> None:
        """Send a frame (a mapping is JSON-encoded; a string goes as it is).

        Raises:
            SocketClosed: the socket is closed.
        """
        text = frame if isinstance(frame, str) else orjson.dumps(dict(frame)).decode()
        if self._socket is None or self.closed:
            raise SocketClosed(self.close_code)
        await self._socket.send(text)
        await self._settle()

    async def ping(self) -> None:
        """`{"type": "ping"}`; the `pong` is among the next frames."""
        await self.send({"type": "ping"})

    async def set_status(self, status: str) -> None:
        """A status frame (REST rules; a refusal comes back as an `error` frame)."""
        await self.send({"type": "status", "status": str(status)})

    async def typing(self, conversation_id: int, is_typing: bool = True) -> None:
        """A typing frame (REST rules; a refusal comes back as an `error` frame)."""
        await self.send({"type": "typing", "conversation_id": conversation_id,
                         "is_typing": is_typing})

    async def close(self) -> None:
        """Disconnect (close 1000), as an app leaving; returns once the service settled."""
        self.close_nowait()
        await self._done.wait()
        await self._settle()

    def close_nowait(self) -> None:
        """Disconnect without waiting (the kit does this for every socket on exit)."""
        self._scope.cancel()
