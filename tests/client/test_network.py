"""NetworkTransport (httpx + trio-websocket) against real sockets, and the manager on it
(the default transport) against a real hypercorn server, on the real clock."""

from __future__ import annotations

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request

from presence_client import (
    NetworkTransport,
    PresenceStatus,
    TransportError,
    UpgradeRejected,
)

from .live import live_server, network_client, status_of, until

PING_FRAME = b"\x89\x00"  # an unmasked server Ping with no payload


async def ping_before_close_reply(stream: trio.SocketStream, seen: list) -> None:
    """A WebSocket server that answers the client's Close with a Ping first."""
    ws = WSConnection(ConnectionType.SERVER)
    while True:
        data = await stream.receive_some(4096)
        if not data:
            return
        ws.receive_data(data)
        for event in ws.events():
            seen.append(type(event).__name__)
            if isinstance(event, Request):
                await stream.send_all(ws.send(AcceptConnection()))
            elif isinstance(event, CloseConnection):
                await stream.send_all(PING_FRAME)
                await stream.send_all(ws.send(event.response()))
                return


async def test_a_close_racing_a_server_ping_is_contained():
    """Regression: trio-websocket's reader answers that Ping in LOCAL_CLOSING and dies with
    LocalProtocolError (python-trio/trio-websocket#184); through its own nursery that
    surfaced as a Cancelled in the caller's, which silently ended the manager's loops."""
    seen: list[str] = []
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            trio.serve_tcp, lambda s: ping_before_close_reply(s, seen), 0)
        port = listeners[0].socket.getsockname()[1]
        sibling_done = trio.Event()

        async def sibling() -> None:
            await trio.sleep(0.2)
            sibling_done.set()

        nursery.start_soon(sibling)
        async with NetworkTransport(f"http://127.0.0.1:{port}") as transport:
            for _ in range(3):
                async with transport.open_websocket("/x", headers={}):
                    pass
        await sibling_done.wait()  # the caller's nursery was never cancelled
        assert seen == ["Request", "CloseConnection"] * 3
        nursery.cancel_scope.cancel()


async def test_requests_upgrades_and_refusals():
    async with live_server() as server, NetworkTransport(server.url) as transport:
        answer = await transport.request("GET", "/api/presence/users", headers={})
        assert answer.status == 401 and answer.headers["www-authenticate"] == "Bearer"
        assert answer.body == {"detail": answer.body["detail"]}
        try:
            async with transport.open_websocket("/api/presence/subscribe", headers={}):
                raise AssertionError("an upgrade without a token was accepted")
        except UpgradeRejected as rejected:
            assert rejected.status == 401 and "detail" in rejected.body
        port = server.url.rsplit(":", 1)[1]
    async with NetworkTransport(f"http://127.0.0.1:{port}", timeout=2) as gone:
        for attempt in (gone.request("GET", "/healthz", headers={}),):
            try:
                await attempt
                raise AssertionError("a stopped server answered")
            except TransportError:
                pass
        try:
            async with gone.open_websocket("/api/presence/subscribe", headers={}):
                raise AssertionError("a stopped server accepted a socket")
        except TransportError:
            pass


async def test_a_connect_cancelled_mid_handshake_closes_its_tcp_connection():
    """Regression: terminate() during a connect left the half-open socket to the server,
    which kept the user online until its dead-peer timeout."""
    request_seen, closed = trio.Event(), trio.Event()

    async def never_answers(stream: trio.SocketStream) -> None:
        await stream.receive_some(4096)  # the upgrade request; no answer, ever
        request_seen.set()
        with trio.fail_after(10):
            while await stream.receive_some(4096):
                pass
        closed.set()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, never_answers, 0)
        port = listeners[0].socket.getsockname()[1]
        transport = NetworkTransport(f"http://127.0.0.1:{port}")

        async def connect() -> None:
            async with transport.open_websocket("/x", headers={}):
                raise AssertionError("the server never answered")

        async with transport, trio.open_nursery() as client:
            client.start_soon(connect)
            await request_seen.wait()
            client.cancel_scope.cancel()
        with trio.fail_after(5):
            await closed.wait()
        nursery.cancel_scope.cancel()



async def test_the_default_transport_carries_a_session_end_to_end():
    """open_presence_manager(url): REST, the push channel, typing, reads and logout over
    real sockets (short timings); every wait is on an event of a view, never a sleep."""
    async with live_server() as server, network_client(server, 2) as grace, \
            network_client(server, 1) as ada:
        await until(grace, lambda: status_of(grace, 1) == "online")
        await until(ada, lambda: ada.connected)
        ada.keystroke(10)
        await until(grace, lambda: 1 in grace.view.typing_in(10))
        await until(grace, lambda: 1 not in grace.view.typing_in(10))  # 0.3 s idle: false
        ada.background()
        await until(grace, lambda: status_of(grace, 1) == "away")
        assert [p.user_id for p in await ada.fetch_presences()] == [1, 2, 3]
        me = await ada.fetch_presence(1)
        assert me.status is PresenceStatus.AWAY and me.last_seen.tzinfo is not None
        await ada.handle_logout()
        await until(grace, lambda: status_of(grace, 1) == "offline")
