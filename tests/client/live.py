"""Helpers for the client's end-to-end tests: a real hypercorn server (tests/web's
`serving`) on the real clock with short timings, and a transport that records."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from presence_client import (
    ClientTiming,
    NetworkTransport,
    SocketClosed,
    TransportError,
    open_presence_manager,
)
from tests.web.conftest import make_token, serving, test_settings

# The server's timings, short; the client's match them (its defaults are the seed's).
SERVER = {"status_min_interval": 0.5, "disconnect_grace": 1.0, "online_ttl": 1.5,
          "jwt_leeway": 0.0}
CLIENT = ClientTiming(status_min_interval=0.5, heartbeat_interval=0.4, reconnect_base=0.1,
                      reconnect_max=0.8, healthy_after=0.5, typing_idle=0.3,
                      typing_min_interval=0.2, request_timeout=5.0)


LIVE: list[RecordingTransport] = []  # this test's transports, for failure messages


@dataclass
class Recorded:
    at: float
    method: str
    path: str
    body: object
    answer: int | None = None  # the HTTP status; None while waiting or with no answer


class RecordingTransport:
    """A real `NetworkTransport` that records what it does and can lose the network."""

    def __init__(self, url: str) -> None:
        self.inner = NetworkTransport(url, timeout=5.0)
        self.calls: list[Recorded] = []
        self.connects: list[float] = []
        self.network = True
        self.sockets = True  # False: only WebSocket connects fail (a proxy that drops them)
        self._cut: set[trio.CancelScope] = set()
        self._changed = trio.Event()
        LIVE.append(self)

    async def request(self, method, path, *, headers, json=None):
        call = Recorded(trio.current_time(), method, path, json)
        self.calls.append(call)
        self._touch()
        if not self.network:
            await trio.lowlevel.checkpoint()
            raise TransportError("network down (simulated)")
        response = await self.inner.request(method, path, headers=headers, json=json)
        call.answer = response.status
        self._touch()
        return response

    @asynccontextmanager
    async def open_websocket(self, path, *, headers):
        self.connects.append(trio.current_time())
        self._touch()
        if not (self.network and self.sockets):
            await trio.lowlevel.checkpoint()
            raise TransportError("network down (simulated)")
        async with self.inner.open_websocket(path, headers=headers) as ws:
            yield _CuttableSocket(ws, self)

    def go_offline(self) -> None:
        """Lose the network: requests and connects fail, open sockets read as closed."""
        self.network = False
        for scope in self._cut:
            scope.cancel()

    def statuses(self) -> list[tuple[str, int | None]]:
        return [(c.body["status"], c.answer) for c in self.calls
                if c.path == "/api/presence/status"]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        with trio.fail_after(timeout):
            while not predicate():
                await self._changed.wait()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = trio.Event()


class _CuttableSocket:
    def __init__(self, ws, owner: RecordingTransport) -> None:
        self.ws, self.owner = ws, owner

    async def send(self, text: str) -> None:
        await self.ws.send(text)

    async def receive(self) -> str:
        with trio.CancelScope() as scope:
            self.owner._cut.add(scope)
            try:
                if self.owner.network:
                    return await self.ws.receive()
            finally:
                self.owner._cut.discard(scope)
        raise SocketClosed(1006, "network down (simulated)")


async def until(manager, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait, event by event, until `predicate()` holds for the manager's view."""
    seen = []
    try:
        with trio.fail_after(timeout), manager.view.open_events() as events:
            if predicate():
                return
            async for event in events:
                seen.append(event)
                if predicate():
                    return
    except trio.TooSlowError:
        calls = "\n".join(f"{t.calls} connects {t.connects}" for t in LIVE)
        raise AssertionError(f"never true; events {seen}; view {dict(manager.view.presences)}; "
                             f"calls of every client:\n{calls}") from None


def status_of(manager, user_id: int) -> str | None:
    presence = manager.view.presence(user_id)
    return presence.status.value if presence else None


@asynccontextmanager
async def live_server(**overrides):
    LIVE.clear()
    async with serving(test_settings(**{**SERVER, **overrides})) as server:
        yield server


@asynccontextmanager
async def client(server, user: int, transport=None, token: str | None = None,
                 foreground: bool = True):
    """A logged-in manager for `user` over `transport` (a recording one by default)."""
    transport = transport or RecordingTransport(server.url)
    async with open_presence_manager(transport, timing=CLIENT) as manager:
        manager.handle_login(token or make_token(user))
        if foreground:
            manager.foreground()
        yield manager
    await transport.inner.aclose()
