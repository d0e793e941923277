"""The one place the service reaches inside hypercorn 0.18 and the wsproto it drives.

Nothing happens on import: `install(policy)` (called by `web.server.serve` and by
`web.hypercorn_conf`) first checks that the hypercorn it would patch is one it knows
(`check`), and refuses with `HypercornPatchError` otherwise. What it adds, none of which an
ASGI app can do itself:

1. **A deadline on socket writes.** hypercorn's trio `TCPServer.protocol_send` writes inside
   a shielded cancel scope, so a peer that stops reading (a suspended app whose TCP stack
   acks a zero window) held the writing task, the connection and its fd for ever.
   Every write now has `policy.write_timeout` (a close frame `policy.close_timeout`);
   past it the TCP connection is dropped and the app sees an ordinary disconnect.
2. **Direct frame writes** (`RawConnection`). Each connection's task remembers our handle
   on it in a context variable, which the app task hypercorn spawns inherits. A session
   writes pre-encoded frames (`web/frames.py`) with one non-blocking write when hypercorn
   is not writing, else under hypercorn's send lock and the deadline above — one syscall
   per socket and batch instead of an ASGI -> wsproto -> lock round per frame.
3. **Knowing that the WebSocket is closing.** hypercorn builds one wsproto `Connection` per
   accepted WebSocket; ours reports every close frame it encodes (hypercorn's 1009 for an
   oversized message, its echo of the peer's close, the app's own) before the bytes go
   out, and no direct write starts after that: no data frame ever follows a Close.
4. **Direct routes.** hypercorn runs every ASGI call in a task of its own, fed through a
   memory channel; a route registered with `install` (the subscribe path) is instead
   driven straight from the connection's read loop — `TaskGroup.spawn_app` returns the
   route's message handler where it would return the channel's `send` — so an idle
   socket costs no task, queue or waiting frame of ours (about 5 KB each). The route gets
   every message hypercorn would have queued, calls `send(None)` when done as hypercorn's
   task wrapper does, and hears of a connection dropped without a disconnect (cancelled)
   through `session.end()` when the read loop exits.
5. **No compression.** hypercorn accepts every permessage-deflate offer, and browsers make
   one; a client that then sends a compressed message costs the server a zlib inflater
   for the life of the socket (12 KB: 25 -> 37 KB per socket, measured). Presence frames
   are a hundred bytes, so the offer is declined (RFC 7692 lets a server decline).
6. **No deadline per read.** hypercorn's read loop put `fail_after(read_timeout)` around
   every read; ours (`RawConnection.read_loop`) stamps the time of each read instead, and
   the pump drops connections silent for `read_timeout` in one pass (`drop_silent`).
7. **A close frame on protocol errors.** wsproto reports a frame it cannot parse (1002) or
   invalid UTF-8 (1007) as a `CloseConnection` without changing its state, and hypercorn
   answers a close only in `REMOTE_CLOSING`: it dropped TCP and clients saw 1006. Ours
   reports such a failure in `REMOTE_CLOSING`, so hypercorn answers with its code. And
   once a close is on its way, data messages are dropped instead of handed to hypercorn,
   which buffered all of an oversized message (a 1 MiB frame: 1 MiB) after refusing it.

What it relies on — `check` verifies each; docs/operations.md "Upgrading hypercorn"
repeats the list: hypercorn's version; `TCPServer.run`, `.protocol_send` and `._read_data`
(the loop `RawConnection.read_loop` replaces, reading `config.read_timeout`), and the
attributes `config`, `context`, `send_lock`, `stream`, `protocol` of a `TCPServer`;
`TaskGroup.spawn_app(app, config, scope, send)` returning the stream's `app_put`, and
`WorkerContext.terminated` (the watcher that drains sockets when hypercorn stops);
`hypercorn.protocol.ws_stream.Connection` and `.PerMessageDeflate` being wsproto's, which
`Handshake.accept` builds by those names, and `WSStream._handle_events` answering a close in
`REMOTE_CLOSING` and dropping a `Connection` event otherwise. The frame writes themselves
(`RawConnection.write_now` / `write_rest`) live in `web/raw_connection.py`.
"""

from __future__ import annotations

import importlib.metadata
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

import trio
from hypercorn.config import Config
from hypercorn.events import RawData
from hypercorn.protocol import ws_stream
from hypercorn.trio.task_group import TaskGroup
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from wsproto.connection import Connection, ConnectionState
from wsproto.events import CloseConnection, Message
from wsproto.extensions import PerMessageDeflate

from .raw_connection import RawConnection

# (scope, ASGI send, connection) -> an async handler of ASGI messages, or None: not direct
Route = Callable[[dict, Callable, RawConnection], Callable[[dict], Awaitable[None]] | None]

KNOWN_VERSIONS = frozenset({"0.18.0"})


class HypercornPatchError(RuntimeError):
    """The installed hypercorn is not one this patch was checked against."""


@dataclass(frozen=True, slots=True)
class ConnectionPolicy:
    """What hypercorn's config cannot say: how long a write may take before the peer is
    dropped, and how long a close frame gets."""

    write_timeout: float = 30.0
    close_timeout: float = 1.0


_connection: ContextVar[RawConnection | None] = ContextVar("presence_connection", default=None)
_policies: weakref.WeakKeyDictionary[Config, ConnectionPolicy] = weakref.WeakKeyDictionary()
_routes: weakref.WeakKeyDictionary[Config, Route] = weakref.WeakKeyDictionary()
_default = ConnectionPolicy()
_default_route: Route | None = None
_original: dict[str, object] = {}


def install(policy: ConnectionPolicy, config: Config | None = None,
            route: Route | None = None) -> None:
    """Patch hypercorn (once) and apply `policy` — and `route`, the direct route — to
    connections served with `config` (to every connection when None: the hypercorn CLI
    serves one app per process).

    Raises:
        HypercornPatchError: the installed hypercorn is not one this module knows.
    """
    global _default, _default_route
    if not _original:
        problems = check()
        if problems:
            raise HypercornPatchError(
                "web/hypercorn_patch.py cannot serve on this hypercorn: " + "; ".join(problems)
                + " (see docs/operations.md, 'Upgrading hypercorn')"
            )
        _original.update(run=TCPServer.run, protocol_send=TCPServer.protocol_send,
                         read_data=TCPServer._read_data, spawn_app=TaskGroup.spawn_app)
        TCPServer.run = _run
        TCPServer.protocol_send = _protocol_send
        TCPServer._read_data = _read_data
        TaskGroup.spawn_app = _spawn_app
        ws_stream.Connection = ServerConnection
        ws_stream.PerMessageDeflate = DecliningDeflate
    if config is None:
        _default, _default_route = policy, route or _default_route
    else:
        _policies[config] = policy
        if route is not None:
            _routes[config] = route


def installed() -> bool:
    return bool(_original)


def check(version: str | None = None, server_class: type = TCPServer,
          stream_module: object = ws_stream) -> list[str]:
    """Everything this module relies on that is missing from the given hypercorn."""
    version = version or importlib.metadata.version("hypercorn")
    problems = []
    if version not in KNOWN_VERSIONS:
        problems.append(f"hypercorn {version} is not {' or '.join(sorted(KNOWN_VERSIONS))}")
    for name, uses in (("run", {"protocol", "stream", "config", "_read_data"}),
                       ("protocol_send", {"send_lock", "stream", "protocol"}),
                       ("_read_data", {"read_timeout", "receive_some", "protocol"})):
        method = getattr(server_class, name, None)
        key = name.lstrip("_")
        if server_class is TCPServer and key in _original:
            method = _original[key]  # already installed: check what it wraps
        names = set(getattr(getattr(method, "__code__", None), "co_names", ()))
        if not uses <= names:
            problems.append(f"TCPServer.{name} does not use {sorted(uses - names)}")
    try:
        server = server_class(None, Config(), WorkerContext(None), {}, None)
        missing = [a for a in ("config", "context", "send_lock", "stream")
                   if not hasattr(server, a)]
    except Exception as error:  # a changed constructor
        missing = [f"a TCPServer(app, config, context, state, stream) ({error})"]
    if missing:
        problems.append(f"TCPServer has no {missing}")
    if not hasattr(getattr(WorkerContext(None), "terminated", None), "wait"):
        problems.append("WorkerContext has no terminated event")
    spawn = _original.get("spawn_app", getattr(TaskGroup, "spawn_app", None))
    arguments = getattr(getattr(spawn, "__code__", None), "co_varnames", ())[:5]
    if arguments != ("self", "app", "config", "scope", "send"):
        problems.append("TaskGroup.spawn_app is not spawn_app(app, config, scope, send)")
    if getattr(stream_module, "Connection", None) not in (Connection, ServerConnection):
        problems.append("hypercorn.protocol.ws_stream does not build wsproto's Connection")
    if getattr(stream_module, "PerMessageDeflate", None) not in (PerMessageDeflate,
                                                                 DecliningDeflate):
        problems.append("hypercorn.protocol.ws_stream does not offer wsproto's "
                        "PerMessageDeflate")
    handler = getattr(getattr(stream_module, "WSStream", None), "_handle_events", None)
    names = set(getattr(getattr(handler, "__code__", None), "co_names", ()))
    if not {"REMOTE_CLOSING", "response", "StreamClosed"} <= names:
        problems.append("WSStream._handle_events no longer answers a close in REMOTE_CLOSING")
    return problems


def current_connection(scope: dict) -> RawConnection | None:
    """Our handle on the hypercorn connection serving this WebSocket `scope`, when frames
    can be written to it directly (an HTTP/1.1 upgrade; HTTP/2 streams share a socket)."""
    if scope.get("http_version") != "1.1":
        return None
    return _connection.get()


async def _run(self: TCPServer) -> None:
    policy = _policies.get(self.config, _default)
    raw = RawConnection(self, policy.write_timeout, policy.close_timeout)
    _connection.set(raw)
    try:
        await _original["run"](self)
    finally:
        if raw.session is not None:  # dropped without a disconnect (shutdown): end it here
            with trio.CancelScope(shield=True):
                await raw.session.end()


async def _spawn_app(self: TaskGroup, app, config: Config, scope: dict, send):
    """The route's message handler for a scope it takes directly; else hypercorn's task."""
    raw = _connection.get()
    route = _routes.get(config, _default_route)
    if raw is not None and route is not None and scope.get("http_version") == "1.1":
        handler = route(scope, send, raw)
        if handler is not None:
            return handler
    return await _original["spawn_app"](self, app, config, scope, send)


async def _read_data(self: TCPServer) -> None:
    raw = _connection.get()
    if raw is None or raw.server is not self:
        await _original["read_data"](self)
    else:
        await raw.read_loop()


async def _protocol_send(self: TCPServer, event) -> None:
    raw = _connection.get()
    if not isinstance(event, RawData) or raw is None or raw.server is not self:
        await _original["protocol_send"](self, event)
        return
    async with self.send_lock:
        await raw.write_locked(event.data)


class DecliningDeflate(PerMessageDeflate):
    """permessage-deflate as hypercorn offers it, declining every client's offer."""

    def accept(self, offer: str) -> None:
        return None


class ServerConnection(Connection):
    """wsproto's Connection as hypercorn builds it for each accepted WebSocket, plus:
    a frame wsproto cannot parse is answered with a close of its code, and every close
    frame it encodes is reported to the connection's `RawConnection` first."""

    def __init__(self, *args, **kwargs) -> None:
        self._failed: int | None = None  # set before super().__init__ reads `state`
        super().__init__(*args, **kwargs)

    @property
    def state(self) -> ConnectionState:
        state = super().state
        if self._failed is not None and state is ConnectionState.OPEN:
            return ConnectionState.REMOTE_CLOSING  # so hypercorn answers the failure
        return state

    def events(self):
        for event in super().events():
            state = super().state
            if isinstance(event, Message) and state is not ConnectionState.OPEN:
                continue  # after a close is sent, data is dropped, not buffered (1 MiB frames)
            if isinstance(event, CloseConnection) and state is ConnectionState.OPEN:
                self._failed = event.code  # a parse failure, not the peer's close frame
            yield event

    def send(self, event) -> bytes:
        if not isinstance(event, CloseConnection):
            return super().send(event)
        by_peer = self.state is ConnectionState.REMOTE_CLOSING and self._failed is None
        data = super().send(event)  # raises where wsproto refuses: then nothing is closing
        raw = _connection.get()
        if raw is not None:
            raw.closing_with(event.code, by_peer)
        return data


async def until_stopping(raw: RawConnection) -> None:
    """Return when the hypercorn worker serving `raw` begins to shut down."""
    await raw.server.context.terminated.wait()


__all__ = ["ConnectionPolicy", "HypercornPatchError", "RawConnection", "Route", "check",
           "current_connection", "install", "installed", "until_stopping"]

