"""An in-memory transport to an ASGI app: HTTP through httpx, WebSockets through ASGI events.

No socket is opened: a request calls the app in the caller's task (httpx's
`ASGITransport`), and a WebSocket is the app's handler running in the transport's nursery
(the "server"), fed and read through two memory channels, as hypercorn would feed it
frames. Everything runs on trio's current clock, so on `MockClock` the whole web layer is
deterministic.

`InMemoryTransport` implements `presence_client.Transport` (docs/client.md): the Python
client runs over it unchanged, and so do the kit's virtual clients. The two differences
from a real network are on purpose and documented in docs/testing.md: the client reads
infinitely fast (no write ever stalls), and there is no dead peer to detect.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import trio

from presence_client.transport import HttpResponse, SocketClosed, TransportError, UpgradeRejected

BASE_URL = "http://presence.test"  # what the app sees as its own address
_ABNORMAL = 1006  # the handler ended without a close frame
_STOP_TIMEOUT = 60.0  # bounds the app's shutdown (trio time)


class InMemoryTransport:
    """HTTP and WebSockets to `app`, in this process; `nursery` runs the socket handlers.

    `timeout` bounds each request and each WebSocket handshake (trio time: virtual on
    `MockClock`), as the `Transport` contract asks."""

    def __init__(self, app: Any, nursery: trio.Nursery, *, timeout: float = 10.0) -> None:
        self.app = app
        self.timeout = timeout
        self._nursery = nursery
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(
        self, method: str, path: str, *, headers: Mapping[str, str], json: object = None
    ) -> HttpResponse:
        """One request through the app; any status is an answer.

        Raises:
            TransportError: the app gave no answer within `timeout`.
        """
        content = None if json is None else orjson.dumps(json)
        headers = dict(headers)
        if content is not None:
            headers.setdefault("Content-Type", "application/json")
        with trio.move_on_after(self.timeout):
            response = await self.http.request(method, path, headers=headers, content=content)
            return HttpResponse(response.status_code,
                                {k.lower(): v for k, v in response.headers.items()},
                                _json_or_none(response.content))
        raise TransportError(f"{method} {path}: no answer within {self.timeout:g} s")

    @asynccontextmanager
    async def open_websocket(
        self, path: str, *, headers: Mapping[str, str]
    ) -> AsyncIterator[InMemorySocket]:
        """Connect to the app's WebSocket at `path` (with its query); leaving closes (1000).

        Raises:
            UpgradeRejected: the app answered the upgrade with an HTTP response.
            TransportError: no answer within `timeout`, or the handler ended at once.
        """
        socket = InMemorySocket(_scope(path, headers))
        self._nursery.start_soon(socket.serve, self.app, name=f"asgi websocket {path}")
        try:
            with trio.fail_after(self.timeout):
                await socket.handshake()
        except trio.TooSlowError:
            raise TransportError(f"WebSocket {path}: no answer within {self.timeout:g} s") \
                from None
        finally:
            if not socket.accepted:
                socket.close(1000)
        try:
            yield socket
        finally:
            socket.close(1000)


class InMemorySocket:
    """Both ends of one in-memory WebSocket: ASGI events on the app's side, text frames
    (`presence_client.WebSocket`) on the client's.

    `close_code` is the code of the app's close frame (None while open, or when the client
    closed first); `client_closed` says the client left."""

    def __init__(self, scope: dict) -> None:
        self.scope = scope
        self._to_app, self._app_inbox = trio.open_memory_channel[dict](math.inf)
        self._to_client, self._client_inbox = trio.open_memory_channel[object](math.inf)
        self._to_app.send_nowait({"type": "websocket.connect"})
        self._answered = trio.Event()
        self._rejection: UpgradeRejected | None = None
        self._response: dict[str, Any] | None = None
        self.accepted = False
        self.close_code: int | None = None
        self.client_closed = False

    @property
    def open(self) -> bool:
        return self.accepted and self.close_code is None and not self.client_closed

    # --- the app's side (ASGI) -------------------------------------------------------

    async def serve(self, app: Any) -> None:
        """Run the app's handler for this connection until it returns."""
        try:
            await app(self.scope, self._app_inbox.receive, self._from_app)
        finally:
            self._reject(UpgradeRejected(500, {}, None))  # ended without answering
            self._closed_by_app(_ABNORMAL, "the handler ended without a close frame")

    async def _from_app(self, message: dict) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            self.accepted = True
            self._answered.set()
        elif kind == "websocket.send":
            if self.open:  # a frame after either side closed goes nowhere, as on a network
                text = message.get("text")
                self._to_client.send_nowait(
                    text if text is not None else (message.get("bytes") or b"").decode())
        elif kind == "websocket.close":
            self._reject(UpgradeRejected(403, {}, None))  # before accept: 403 (ASGI spec)
            self._closed_by_app(message.get("code", 1000), message.get("reason"))
        elif kind == "websocket.http.response.start":
            self._response = {"status": message["status"], "headers": message["headers"],
                              "body": b""}
        elif kind == "websocket.http.response.body":
            self._response_body(message)
        await trio.lowlevel.checkpoint()

    def _response_body(self, message: dict) -> None:
        response = self._response or {"status": 500, "headers": [], "body": b""}
        response["body"] += message.get("body", b"")
        if not message.get("more_body", False):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in response["headers"]}
            body = _json_or_none(response["body"])
            self._reject(UpgradeRejected(response["status"], headers, body))

    def _reject(self, rejection: UpgradeRejected) -> None:
        if not self._answered.is_set():
            self._rejection = rejection
            self._answered.set()

    def _closed_by_app(self, code: int, reason: str | None) -> None:
        if self.accepted and self.close_code is None and not self.client_closed:
            self.close_code = code
            self._to_client.send_nowait(SocketClosed(code, reason or None))

    # --- the client's side (text frames) ---------------------------------------------

    async def handshake(self) -> None:
        """Wait for the app to accept. Raises: UpgradeRejected."""
        await self._answered.wait()
        if self._rejection is not None:
            raise self._rejection

    async def send(self, text: str) -> None:
        """One text frame to the app. Raises: SocketClosed."""
        await trio.lowlevel.checkpoint()
        if not self.open:
            raise SocketClosed(self.close_code)
        self._to_app.send_nowait({"type": "websocket.receive", "text": text})

    async def receive(self) -> str:
        """The next text frame from the app. Raises: SocketClosed once it is closed."""
        return self._unwrap(await self._client_inbox.receive())

    def receive_nowait(self) -> str:
        """A frame already delivered. Raises: trio.WouldBlock; SocketClosed once closed."""
        return self._unwrap(self._client_inbox.receive_nowait())

    def _unwrap(self, item: object) -> str:
        if isinstance(item, SocketClosed):
            self._to_client.send_nowait(item)  # every later receive says closed too
            raise item
        return item  # type: ignore[return-value]

    def close(self, code: int = 1000) -> None:
        """The client closes (the app sees `websocket.disconnect`); never waits."""
        if self.client_closed:
            return
        was_open = self.open
        self.client_closed = True
        self._to_app.send_nowait({"type": "websocket.disconnect", "code": code})
        if was_open:
            self._to_client.send_nowait(SocketClosed(code, "closed by the client"))


def _scope(path: str, headers: Mapping[str, str]) -> dict:
    parts = urlsplit(path)
    host = urlsplit(BASE_URL).hostname or "presence.test"
    raw = [(b"host", host.encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": (host, 80),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "headers": raw,
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }


def _json_or_none(content: bytes | None) -> object:
    if not content:
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


class LifespanFailed(RuntimeError):
    """The app's start-up (or shutdown) failed; the message is the app's."""


@asynccontextmanager
async def app_lifespan(app: Any, nursery: trio.Nursery) -> AsyncIterator[None]:
    """Start `app` as an ASGI server does (the lifespan protocol), and stop it on exit.

    The lifespan task runs in `nursery`, which Quart-Trio makes `app.nursery`. Every wait
    also ends when that task does (cancelled with the nursery), so leaving never depends
    on time passing: a manual `MockClock` cannot hang it.

    Raises:
        LifespanFailed: the app reported that its start-up or shutdown failed.
    """
    to_app, inbox = trio.open_memory_channel[dict](math.inf)
    answered = {"startup": trio.Event(), "shutdown": trio.Event()}
    outcomes: dict[str, str] = {}  # phase -> "complete" / the failure message

    async def send(message: dict) -> None:
        phase, _, outcome = message["type"].removeprefix("lifespan.").partition(".")
        outcomes[phase] = message.get("message", "") if outcome == "failed" else "complete"
        answered[phase].set()
        await trio.lowlevel.checkpoint()

    async def run() -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        try:
            await app(scope, inbox.receive, send)
        finally:
            for event in answered.values():
                event.set()

    nursery.start_soon(run, name="asgi lifespan")
    to_app.send_nowait({"type": "lifespan.startup"})
    await answered["startup"].wait()
    _check(outcomes, "startup", "start")
    try:
        yield
    finally:
        to_app.send_nowait({"type": "lifespan.shutdown"})
        with trio.move_on_after(_STOP_TIMEOUT, shield=True):
            await answered["shutdown"].wait()
    _check(outcomes, "shutdown", "stop")


def _check(outcomes: dict[str, str], phase: str, verb: str) -> None:
    outcome = outcomes.get(phase, "no answer")
    if outcome != "complete":
        raise LifespanFailed(f"the app failed to {verb}: {outcome}")
