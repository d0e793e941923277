"""The default transport: httpx for REST, trio-websocket for the push channel."""

from __future__ import annotations

import json as jsonlib
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    WebSocketConnection,
    wrap_client_stream,
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
        """Connect; leaving closes with 1000 (bounded by `timeout`), a cancellation at once.

        The connection's reader task runs in a nursery of ours, not trio-websocket's:
        its reader can crash on a close handshake that races a server ping (a Pong it
        may not send in LOCAL_CLOSING, python-trio/trio-websocket#184). Such a failure
        ends this socket as a `TransportError`, never as a stray `Cancelled` in the
        caller's nursery.

        Raises: UpgradeRejected (an HTTP answer), TransportError (no answer, or the
        connection failed under the caller).
        """
        extra = [(k.encode(), v.encode()) for k, v in headers.items()]
        mine: BaseException | None = None  # a connect failure, or the caller's own exception
        closing = False
        streams: list[trio.abc.Stream] = []  # ours to close, however the connect ended
        try:
            async with trio.open_nursery() as nursery:
                try:
                    connection = await self._connect(nursery, path, extra, streams)
                except BaseException as error:
                    mine = error
                    nursery.cancel_scope.cancel()
                    raise
                try:
                    yield NetworkSocket(connection)
                except BaseException as error:
                    mine = error
                    raise
                finally:
                    closing = mine is None
                    with trio.move_on_after(self.timeout):
                        await connection.aclose()
                    nursery.cancel_scope.cancel()  # the reader task goes with the socket
        except BaseExceptionGroup as group:
            _reraise(group, mine, closing)
        finally:
            # A connect cancelled mid-handshake (terminate) leaves no connection object to
            # close, and the server would keep the half-open socket, and the user online.
            for stream in streams:
                await trio.aclose_forcefully(stream)

    async def _connect(self, nursery: trio.Nursery, path: str, extra: list[tuple[bytes, bytes]],
                       streams: list[trio.abc.Stream]) -> WebSocketConnection:
        url = urlsplit(self.base_url)
        secure = url.scheme == "https"
        port = url.port or (443 if secure else 80)
        try:
            with trio.fail_after(self.timeout):
                if secure:
                    stream = await trio.open_ssl_over_tcp_stream(
                        url.hostname, port, ssl_context=ssl.create_default_context(),
                        https_compatible=True)
                else:
                    stream = await trio.open_tcp_stream(url.hostname, port)
                streams.append(stream)
                host = url.hostname if url.port is None else f"{url.hostname}:{port}"
                return await wrap_client_stream(nursery, stream, host, path,
                                                extra_headers=extra, message_queue_size=64)
        except (ConnectionRejected, HandshakeError, OSError, trio.TooSlowError) as error:
            raise _connect_error(error) from None


def _connect_error(error: BaseException) -> TransportError:
    if isinstance(error, ConnectionRejected):
        pairs = ((k.decode("latin-1"), v.decode("latin-1")) for k, v in error.headers)
        return UpgradeRejected(error.status_code, _lower(pairs), _json_or_none(error.body))
    return TransportError(f"WebSocket failed: {error!r}")


def _reraise(group: BaseExceptionGroup, mine: BaseException | None, closing: bool) -> None:
    """Raise what the caller should see from the socket's nursery, as itself.

    A connect failure or the caller's own exception (a cancellation from outside too)
    wins. A failure of the reader task — which also reads the handshake answer, so it is
    the one that sees a rejection — becomes UpgradeRejected or TransportError, and nothing
    once the caller had finished with the socket.
    """
    if mine is not None and any(e is mine for e in group.exceptions):
        raise mine
    for error in group.exceptions:
        if isinstance(error, trio.Cancelled):
            raise error
    if not closing:
        raise _connect_error(group.exceptions[0]) from group


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
