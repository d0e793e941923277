"""A scripted fake `Transport` for the client's timing tests on the autojump clock.

It records every request and connect attempt with its trio time, answers from a
script the test sets, and hands the client `FakeSocket`s whose server side the test
drives (push a frame, close with a code). Nothing here touches a network.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio

from presence_client import HttpResponse, SocketClosed, TransportError, UpgradeRejected

EMPTY_STATE = {"type": "initial_state", "data": {"presences": [], "typing": []}}


@dataclass
class Call:
    at: float
    method: str
    path: str
    headers: dict
    body: object

    @property
    def status(self) -> str | None:
        return self.body.get("status") if isinstance(self.body, dict) else None


def ok(call: Call) -> HttpResponse:
    """The default answer: 200, echoing what a real server would say."""
    return HttpResponse(200, {}, {"user_id": 1, "status": call.status or "online",
                                  "last_seen": "2024-01-01T12:00:00Z"})


class FakeSocket:
    def __init__(self, at: float, headers: dict, auto_pong: bool) -> None:
        self.at = at
        self.headers = headers
        self.auto_pong = auto_pong
        self.sent: list[dict] = []  # frames from the client
        self.closed_by_client = False
        self.closed_by_server: int | None = None
        self._send, self._receive = trio.open_memory_channel[object](math.inf)

    # the server side, driven by the test
    def push(self, frame: dict) -> None:
        self._send.send_nowait(json.dumps(frame))

    def close(self, code: int) -> None:
        self.closed_by_server = code
        self._send.send_nowait(SocketClosed(code))

    # the client side: the `WebSocket` interface
    async def send(self, text: str) -> None:
        await trio.lowlevel.checkpoint()
        if self.closed_by_server is not None or self.closed_by_client:
            raise SocketClosed(self.closed_by_server)
        frame = json.loads(text)
        self.sent.append(frame)
        if self.auto_pong and frame == {"type": "ping"}:
            self.push({"type": "pong"})

    async def receive(self) -> str:
        item = await self._receive.receive()
        if isinstance(item, SocketClosed):
            raise item
        return item


@dataclass
class FakeTransport:
    respond: Callable[[Call], HttpResponse] = ok
    network: bool = True  # False: every request and connect fails with TransportError
    refuse_upgrade: HttpResponse | None = None  # answer upgrades with this instead
    initial_state: dict | None = field(default_factory=lambda: EMPTY_STATE)
    auto_pong: bool = True
    latency: float = 0.0  # seconds before each answer
    close_at_once: int | None = None  # close every socket with this code right after syncing
    calls: list[Call] = field(default_factory=list)
    connects: list[float] = field(default_factory=list)  # every attempt, failed or not
    sockets: list[FakeSocket] = field(default_factory=list)  # every accepted socket

    async def request(self, method: str, path: str, *, headers, json=None) -> HttpResponse:
        await trio.lowlevel.checkpoint()
        call = Call(trio.current_time(), method, path, dict(headers), json)
        self.calls.append(call)
        if not self.network:
            raise TransportError("network down")
        await trio.sleep(self.latency)
        return self.respond(call)

    @asynccontextmanager
    async def open_websocket(self, path: str, *, headers):
        await trio.lowlevel.checkpoint()
        self.connects.append(trio.current_time())
        if not self.network:
            raise TransportError("network down")
        if self.refuse_upgrade is not None:
            answer = self.refuse_upgrade
            raise UpgradeRejected(answer.status, answer.headers, answer.body)
        socket = FakeSocket(trio.current_time(), {**dict(headers), "path": path}, self.auto_pong)
        self.sockets.append(socket)
        if self.initial_state is not None:
            socket.push(self.initial_state)
        if self.close_at_once is not None:
            socket.close(self.close_at_once)
        try:
            yield socket
        finally:
            socket.closed_by_client = True

    # what the tests read
    def posts(self, path: str = "/api/presence/status") -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.path == path]

    def statuses(self) -> list[tuple[float, str]]:
        return [(c.at, c.status) for c in self.posts()]

    def typing(self, conversation_id: int) -> list[tuple[float, bool]]:
        path = f"/api/conversations/{conversation_id}/typing"
        return [(c.at, c.body["is_typing"]) for c in self.posts(path)]

    @property
    def live_sockets(self) -> list[FakeSocket]:
        return [s for s in self.sockets
                if not s.closed_by_client and s.closed_by_server is None]


def answer(status: int, body: object = None, **headers: str) -> HttpResponse:
    return HttpResponse(status, {k.replace("_", "-").lower(): v for k, v in headers.items()},
                        body if body is not None else {"detail": f"HTTP {status}"})
