"""The client's only contact with the network: a small interface, injectable.

`PresenceManager` speaks to the service through a `Transport`: one HTTP request at a time
(method, path, headers, JSON body → status, headers, JSON) and WebSocket sessions
(`open_websocket` → send / receive / close). The default, `NetworkTransport`, is httpx
plus trio-websocket; tests pass a scripted fake, and the project's testing kit an
in-memory transport to the real app on MockClock. docs/client.md describes the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol


class TransportError(Exception):
    """No answer: the network is down, the host refuses, or the request timed out."""


class UpgradeRejected(TransportError):
    """The server answered the WebSocket upgrade with a plain HTTP response (401, 429...)."""

    def __init__(self, status: int, headers: Mapping[str, str], body: object = None) -> None:
        super().__init__(f"WebSocket upgrade rejected with HTTP {status}")
        self.status = status
        self.headers = headers
        self.body = body


class SocketClosed(Exception):
    """The WebSocket is closed; `code` is the close code (4401: token expired, 4403: the
    user was removed from the directory)."""

    def __init__(self, code: int | None, reason: str | None = None) -> None:
        super().__init__(f"WebSocket closed ({code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class HttpResponse:
    """What the client reads of an HTTP answer. Header names are lower case."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: object = None  # the parsed JSON, or None when there was none


class WebSocket(Protocol):
    """An open WebSocket carrying JSON text frames."""

    async def send(self, text: str) -> None:
        """Send one text frame. Raises: SocketClosed."""

    async def receive(self) -> str:
        """The next text frame. Raises: SocketClosed once the socket is closed."""


class Transport(Protocol):
    """HTTP and WebSocket to one presence service. Paths start with `/`."""

    async def request(
        self, method: str, path: str, *, headers: Mapping[str, str], json: object = None
    ) -> HttpResponse:
        """One request; any status is an answer. Raises: TransportError (no answer)."""

    def open_websocket(
        self, path: str, *, headers: Mapping[str, str]
    ) -> AbstractAsyncContextManager[WebSocket]:
        """Connect; closes (1000) on exit, also when cancelled.

        Raises: UpgradeRejected (an HTTP answer), TransportError (no answer).
        """
