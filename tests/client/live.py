"""The one place the client's end-to-end tests build clients.

On the testing kit (`presence_actors.testing`, most tests): the real app in memory on
`MockClock`, the seed's timings on both sides, and a transport that records what the
client does, in virtual seconds since the kit started, and can lose the network. Over a
real network (a few tests): a hypercorn server on port 0 (tests/web's `serving`) with
short timings, and the client's default `NetworkTransport`, on the real clock.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from presence_actors.testing import open_presence_kit
from presence_client import (
    ClientTiming,
    SocketClosed,
    Transport,
    TransportError,
    UpgradeRejected,
    open_presence_manager,
)
from tests.web.conftest import make_token, serving, test_settings

ACCEPTED = 101  # what `Connect.answer` says of an upgrade that went through


@dataclass
class Request:
    at: float  # seconds since the kit started
    method: str
    path: str
    body: object
    answer: int | None = None  # the HTTP status; None: no answer (yet)


@dataclass
class Connect:
    at: float
    answer: int | None = None  # ACCEPTED, the status of a refused upgrade, or None: no answer


class RecordingTransport:
    """A `Transport` around another (the kit's) that records every request and connect.

    `network = False` is a lost network: requests and connects fail with `TransportError`
    and open sockets read as closed (1006); the client then leaves them, which the server
    sees as a disconnect at once (a real server notices a vanished peer within 45 s).
    `sockets = False` fails only WebSocket connects: a proxy that drops them. `inner = None`:
    no server there (connections refused), e.g. between a kit that stopped and the next."""

    def __init__(self, inner: Transport | None, origin: float) -> None:
        self.inner = inner
        self.origin = origin  # the trio time of second 0
        self.calls: list[Request] = []
        self.connects: list[Connect] = []
        self.network = True
        self.sockets = True
        self._open: set[trio.CancelScope] = set()

    def now(self) -> float:
        return round(trio.current_time() - self.origin, 6)

    async def request(self, method, path, *, headers, json=None):
        call = Request(self.now(), method, path, json)
        self.calls.append(call)
        if not self.reachable:
            await trio.lowlevel.checkpoint()
            raise TransportError("network down (simulated)")
        response = await self.inner.request(method, path, headers=headers, json=json)
        call.answer = response.status
        return response

    @asynccontextmanager
    async def open_websocket(self, path, *, headers):
        connect = Connect(self.now())
        self.connects.append(connect)
        if not (self.reachable and self.sockets):
            await trio.lowlevel.checkpoint()
            raise TransportError("network down (simulated)")
        try:
            async with self.inner.open_websocket(path, headers=headers) as ws:
                connect.answer = ACCEPTED
                yield _CuttableSocket(ws, self)
        except UpgradeRejected as rejected:
            connect.answer = rejected.status
            raise

    @property
    def reachable(self) -> bool:
        return self.network and self.inner is not None

    def go_offline(self) -> None:
        """Lose the network: see the class."""
        self.network = False
        for scope in self._open:
            scope.cancel()

    def statuses(self) -> list[tuple[float, str, int | None]]:
        """(at, status, answer) of every status POST."""
        return [(c.at, c.body["status"], c.answer) for c in self.calls
                if c.path == "/api/presence/status"]

    def typing(self, conversation_id: int) -> list[tuple[float, bool, int | None]]:
        """(at, is_typing, answer) of every typing POST to the conversation."""
        path = f"/api/conversations/{conversation_id}/typing"
        return [(c.at, c.body["is_typing"], c.answer) for c in self.calls if c.path == path]

    def attempts(self, since: float = 0.0) -> list[tuple[float, int | None]]:
        """(at, answer) of every connect attempt from `since` on."""
        return [(c.at, c.answer) for c in self.connects if c.at >= since]


class _CuttableSocket:
    def __init__(self, ws, owner: RecordingTransport) -> None:
        self.ws, self.owner = ws, owner

    async def send(self, text: str) -> None:
        await self.ws.send(text)

    async def receive(self) -> str:
        with trio.CancelScope() as scope:
            self.owner._open.add(scope)
            try:
                if self.owner.network:
                    return await self.ws.receive()
            finally:
                self.owner._open.discard(scope)
        raise SocketClosed(1006, "network down (simulated)")


@asynccontextmanager
async def client(presence, user: int, *, token: str | None = None, foreground: bool = True):
    """A logged-in `PresenceManager` for `user` on the kit `presence`, with the seed's
    timings, over a `RecordingTransport` (`manager.transport`); settled before it yields."""
    origin = presence.wall.to_trio(presence.start)
    transport = RecordingTransport(presence.transport, origin)
    async with open_presence_manager(transport, device_id=f"py-{user}") as manager:
        manager.handle_login(token or presence.token(user))
        if foreground:
            manager.foreground()
        await presence.settle()
        yield manager


async def serve_kit(stop: trio.Event, *, task_status=trio.TASK_STATUS_IGNORED, **kwargs):
    """Run a kit (`open_presence_kit(**kwargs)`) until `stop` is set: a server that goes
    away while its clients stay. `await nursery.start(...)` returns the kit."""
    async with open_presence_kit(**kwargs) as kit:
        task_status.started(kit)
        await stop.wait()


# --- over a real network --------------------------------------------------------------------

# The server's timings, short; the client's match them (its defaults are the seed's).
SERVER = {"status_min_interval": 0.5, "disconnect_grace": 0.5, "online_ttl": 1.5}
FAST = ClientTiming(status_min_interval=0.5, heartbeat_interval=0.4, reconnect_base=0.1,
                    reconnect_max=0.8, healthy_after=0.5, typing_idle=0.3,
                    typing_min_interval=0.2, request_timeout=5.0)


@asynccontextmanager
async def live_server(**overrides):
    """A real hypercorn server on port 0 with short timings (tests/web's `serving`)."""
    async with serving(test_settings(**{**SERVER, **overrides})) as server:
        yield server


@asynccontextmanager
async def network_client(server, user: int, foreground: bool = True):
    """A logged-in manager for `user` built from the server's URL: the default transport."""
    async with open_presence_manager(server.url, timing=FAST) as manager:
        manager.handle_login(make_token(user))
        if foreground:
            manager.foreground()
        yield manager


async def until(manager, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait, event by event of the manager's view, until `predicate()` holds."""
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
        raise AssertionError(f"never true; events {seen}; view "
                             f"{dict(manager.view.presences)}") from None


def status_of(manager, user_id: int) -> str | None:
    presence = manager.view.presence(user_id)
    return presence.status.value if presence else None
