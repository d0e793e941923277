"""The default transport: httpx for REST, trio-websocket for the push channel."""

from __future__ import annotations

import json as jsonlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from .transport import HttpResponse, SocketClosed, TransportError, UpgradeRejected


class NetworkTransport:
    """A `Transport` to the service at `base_url` (`http://host:port` or `https://...`).

    `timeout` bounds each request, each connect and each close. Close it with `aclose()`
    (or use it as an async context manager) to release pooled HTTP connections.
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def __aenter__(self) -> NetworkTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self, method: str, path: str, *, headers: Mapping[str, str], json: object = None
    ) -> HttpResponse:
        """One request; any status is an answer. Raises: TransportError (no answer)."""
        try:
            response = await self._http.request(method, path, headers=dict(headers), json=json)
        except httpx.HTTPError as error:
            raise TransportError(f"{method} {path}: {error!r}") from error
        return HttpResponse(response.status_code, _lower(response.headers.items()),
                            _json_or_none(response.content))

    @asynccontextmanager
    async def open_websocket(
        self, path: str, *, headers: Mapping[str, str]
    ) -> AsyncIterator[NetworkSocket]:
        """Connect; closes (1000) on exit, also when cancelled.

        Raises: UpgradeRejected (an HTTP answer), TransportError (no answer).
        """
        url = "ws" + self.base_url.removeprefix("http") + path
        extra = [(k.encode(), v.encode()) for k, v in headers.items()]
        try:
            async with open_websocket_url(
                url, extra_headers=extra, connect_timeout=self.timeout,
                disconnect_timeout=self.timeout,
            ) as connection:
                try:
                    yield NetworkSocket(connection)
                finally:
                    # Shielded: a socket closed because the app went to the background
                    # (a cancellation) still says goodbye with 1000, within the timeout.
                    with trio.CancelScope(shield=True), trio.move_on_after(self.timeout):
                        await connection.aclose()
        except ConnectionRejected as error:
            pairs = ((k.decode("latin-1"), v.decode("latin-1")) for k, v in error.headers)
            raise UpgradeRejected(error.status_code, _lower(pairs),
                                  _json_or_none(error.body)) from None
        except (HandshakeError, OSError) as error:
            raise TransportError(f"connect {url}: {error!r}") from error


class NetworkSocket:
    """trio-websocket's connection behind the `WebSocket` interface."""

    def __init__(self, connection: WebSocketConnection) -> None:
        self._connection = connection

    async def send(self, text: str) -> None:
        try:
            await self._connection.send_message(text)
        except ConnectionClosed as error:
            raise _closed(error) from None

    async def receive(self) -> str:
        try:
            message = await self._connection.get_message()
        except ConnectionClosed as error:
            raise _closed(error) from None
        return message if isinstance(message, str) else message.decode()


def _closed(error: ConnectionClosed) -> SocketClosed:
    reason = error.reason
    return SocketClosed(reason.code if reason else None, reason.reason if reason else None)


def _lower(pairs) -> dict[str, str]:
    return {k.lower(): v for k, v in pairs}


def _json_or_none(content: bytes | None) -> object:
    if not content:
        return None
    try:
        return jsonlib.loads(content)
    except ValueError:
        return None
