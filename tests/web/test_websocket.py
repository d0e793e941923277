"""`/api/presence/subscribe` (SPEC §8) through a real hypercorn server, trio-websocket client.

Flows wait for the expected frame under `fail_after`; the only sleep is a window in which
something must *not* happen (no false dead peer). The rules that take time (grace, typing
expiry, token expiry) are tested on the testing kit in test_socket_timing.py, with the
spec's own timings and no wall time.
"""

from __future__ import annotations

import socket

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected

from presence_actors import PresenceStatus

from .conftest import make_token, presence_of, receive_json, serving, test_settings, wait_for

FAST = {"status_min_interval": 0.05, "disconnect_grace": 0.3, "typing_ttl": 0.5}


async def _closed_with(ws, timeout: float = 5.0) -> int:
    with trio.fail_after(timeout):
        try:
            while True:
                await ws.get_message()
        except ConnectionClosed as closed:
            return closed.reason.code


def _typing_of(user_id: int, conversation_id: int, is_typing: bool):
    def match(message: dict) -> bool:
        return message["type"] == "typing_update" and message["data"] == {
            "user_id": user_id, "conversation_id": conversation_id, "is_typing": is_typing}
    return match


# --- seed "Backend Tests" ------------------------------------------------------------------


async def test_websocket_authentication_works_with_bearer_token(server):
    async with server.subscribe(1) as ws:
        first = await receive_json(ws)
        assert first["type"] == "initial_state"
    async with server.subscribe(query=f"?token={make_token(1)}", authorization=False) as ws:
        assert (await receive_json(ws))["type"] == "initial_state"


async def test_post_presence_status_broadcasts_to_websocket_subscribers(server):
    async with server.subscribe(1) as ada, server.client(2) as grace:
        await receive_json(ada)
        posted = (await grace.post("/api/presence/status", json={"status": "away"})).json()
        update = await wait_for(ada, presence_of(2, "away"))
        assert update == {"type": "presence_update", "data": posted}


async def test_websocket_reconnection_preserves_subscription_state():
    async with (
        serving(test_settings(**FAST)) as server,
        server.subscribe(1) as ada,
    ):
        before = await receive_json(ada)
        async with server.client(2) as grace:
            posted = (await grace.post("/api/presence/status", json={"status": "away"})).json()
        async with server.subscribe(1) as ada:  # missed the push while away; catches up
            after = await receive_json(ada)
        assert after["type"] == "initial_state"
        assert [p["user_id"] for p in after["data"]["presences"]] == \
            [p["user_id"] for p in before["data"]["presences"]] == [1, 2, 3]
        grace_now = next(p for p in after["data"]["presences"] if p["user_id"] == 2)
        assert grace_now == {**posted, "is_typing": False}


# --- seed "Cross-Platform Parity Tests" (the WebSocket side) ----------------------------------


async def test_websocket_message_formats_are_consistent(server):
    async with server.client(1) as ada:
        await ada.post("/api/conversations/10/typing", json={"is_typing": True})
    async with server.subscribe(2) as grace, server.client(1) as ada:
        initial = await receive_json(grace)
        assert set(initial) == {"type", "data"} and set(initial["data"]) == {"presences", "typing"}
        for presence in initial["data"]["presences"]:
            assert set(presence) == {"user_id", "status", "last_seen", "is_typing"}
        assert initial["data"]["typing"] == [{"user_id": 1, "conversation_id": 10,
                                             "is_typing": True}]
        # the typing POST was activity: Ada is online already (SPEC §5), so away is a change
        await ada.post("/api/presence/status", json={"status": "away"})
        update = await wait_for(grace, presence_of(1, "away"))
        assert set(update) == {"type", "data"}
        assert set(update["data"]) == {"user_id", "status", "last_seen"}
        await ada.post("/api/conversations/10/typing", json={"is_typing": False})
        typing = await wait_for(grace, _typing_of(1, 10, False))
        assert list(typing["data"]) == ["user_id", "conversation_id", "is_typing"]


# --- client frames -------------------------------------------------------------------------


async def test_ping_gets_pong(server):
    async with server.subscribe(1) as ws:
        await receive_json(ws)
        await ws.send_message('{"type": "ping"}')
        assert await receive_json(ws) == {"type": "pong"}


@pytest.mark.parametrize("frame", [
    "not json", "[]", "{}", '{"type": "dance"}', '{"type": "status"}',
    '{"type": "status", "status": "busy"}', '{"type": "typing", "conversation_id": "x"}',
    '{"type": "typing", "conversation_id": 10, "is_typing": "yes"}', b"\xff\xfe binary",
])
async def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(server, frame):
    async with server.subscribe(1) as ws:
        await receive_json(ws)
        await ws.send_message(frame)
        error = await receive_json(ws)
        assert error["type"] == "error" and set(error["data"]) == {"code", "detail"}
        assert error["data"]["code"] == "invalid_frame"
        await ws.send_message('{"type": "ping"}')
        assert await receive_json(ws) == {"type": "pong"}


async def test_status_and_typing_frames_follow_the_rest_rules(server):
    async with server.subscribe(1) as ada, server.subscribe(2) as grace:
        await receive_json(ada)
        await receive_json(grace)
        await ada.send_message('{"type": "status", "status": "away"}')
        assert (await wait_for(grace, presence_of(1, "away")))["data"]["user_id"] == 1
        await ada.send_message('{"type": "status", "status": "online"}')  # within 5 s
        limited = await wait_for(ada, lambda m: m["type"] == "error")
        assert limited["data"]["code"] == "rate_limited"
        await ada.send_message('{"type": "typing", "conversation_id": 10, "is_typing": true}')
        await wait_for(grace, _typing_of(1, 10, True))
        await ada.send_message('{"type": "typing", "conversation_id": 11, "is_typing": true}')
        forbidden = await wait_for(ada, lambda m: m["type"] == "error")
        assert forbidden["data"]["code"] == "not_found"


async def test_the_subscriber_does_not_receive_its_own_typing(server):
    async with server.subscribe(1) as ada, server.client(1) as rest:
        await receive_json(ada)
        await rest.post("/api/conversations/10/typing", json={"is_typing": True})
        await ada.send_message('{"type": "ping"}')
        assert await receive_json(ada) == {"type": "pong"}  # and no typing_update before it


async def test_a_frame_over_4_kib_closes_with_1009(server):
    async with server.subscribe(1) as ws:
        await receive_json(ws)
        await ws.send_message('{"type": "ping", "pad": "' + "x" * 4100 + '"}')
        assert await _closed_with(ws) == 1009


# --- admission and closing -------------------------------------------------------------------


async def test_more_than_the_socket_limit_per_user_is_http_429_before_the_upgrade():
    async with serving(test_settings(max_sockets_per_user=2)) as server:
        async with server.subscribe(1) as one, server.subscribe(1) as two:
            await receive_json(one)
            await receive_json(two)
            with pytest.raises(ConnectionRejected) as rejected:
                async with server.subscribe(1):
                    pytest.fail("a third socket was accepted")
            assert rejected.value.status_code == 429
            assert dict(rejected.value.headers)[b"retry-after"] == b"1"
        async with server.subscribe(1) as again:  # room again once they closed
            assert (await receive_json(again))["type"] == "initial_state"


async def test_a_malformed_device_id_is_http_422_before_the_upgrade(server):
    with pytest.raises(ConnectionRejected) as rejected:
        async with server.subscribe(1, query="?device_id=bad%20id"):
            pytest.fail("upgraded with a bad device id")
    assert rejected.value.status_code == 422


async def test_server_shutdown_closes_sockets_with_1001():
    async with (
        serving() as server,
        server.subscribe(1) as ws,
    ):
        await receive_json(ws)
        server.shutdown.set()
        assert await _closed_with(ws) == 1001
        with trio.fail_after(10):
            await server.stopped.wait()


async def _raw_upgrade(server, user: int) -> trio.SocketStream:
    """A WebSocket upgrade by hand, over plain TCP: a peer that will never answer a ping."""
    host, port = server.url.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    request = (f"GET /api/presence/subscribe?token={make_token(user)} HTTP/1.1\r\n"
               f"Host: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n")
    await stream.send_all(request.encode())
    return stream


async def test_a_dead_peer_is_detected_and_its_socket_closed():
    """hypercorn's pings alone never close a silent peer (pongs are dropped before the app);
    its read_timeout, which a live client's pongs keep resetting, does."""
    settings = test_settings(ws_ping_interval=0.2, dead_peer_timeout=1.0, **FAST)
    async with serving(settings) as server:
        stream = await _raw_upgrade(server, 2)
        received = b""
        with trio.fail_after(5):  # read (without ever answering a ping) until the server hangs up
            while chunk := await stream.receive_some(65536):
                received += chunk
        assert received.startswith(b"HTTP/1.1 101")
        assert b"initial_state" in received
        await stream.aclose()
        # hypercorn hangs up only after the app's handler (and its subscription) ended
        assert server.service.socket_count(2) == 0


async def test_regression_a_dead_peer_s_last_seen_is_its_last_activity_not_its_detection():
    """Issue 8 item 20: last_seen moved to the moment the dead peer was found (up to a
    minute after it went silent)."""
    settings = test_settings(ws_ping_interval=0.2, dead_peer_timeout=1.0, **FAST)
    async with serving(settings) as server:
        stream = await _raw_upgrade(server, 2)
        sent = server.host.wall.now()
        with trio.fail_after(5):  # never answer a ping: found dead after dead_peer_timeout
            while await stream.receive_some(65536):
                pass
        found = server.host.wall.now()
        await stream.aclose()
        assert found - sent >= 1.0
        last_seen = server.service.context.board[2].last_seen
        assert sent <= last_seen < sent + 0.5  # its connect, its only activity


async def test_a_live_client_answering_pings_is_not_taken_for_dead():
    settings = test_settings(ws_ping_interval=0.2, dead_peer_timeout=1.0)
    async with serving(settings) as server, server.subscribe(1) as ws:
        await receive_json(ws)
        await trio.sleep(2.5)  # well past the dead-peer timeout; trio-websocket answers pings
        await ws.send_message('{"type": "ping"}')
        assert await receive_json(ws) == {"type": "pong"}


async def test_a_draining_server_refuses_new_sockets_with_503(server):
    server.host.draining.set()
    with pytest.raises(ConnectionRejected) as rejected:
        async with server.subscribe(1):
            pytest.fail("upgraded while draining")
    assert rejected.value.status_code == 503


async def test_regression_an_empty_binary_frame_is_an_error_frame_not_a_crash(server):
    """quart-trio hands an empty binary frame to the app as None (found by the fuzz test)."""
    async with server.subscribe(1) as ws:
        await receive_json(ws)
        await ws.send_message(b"")
        assert (await receive_json(ws))["data"]["code"] == "invalid_frame"
        await ws.send_message('{"type": "ping"}')
        assert await receive_json(ws) == {"type": "pong"}


async def test_a_client_that_stops_reading_is_dropped_after_the_write_timeout():
    """hypercorn shields its socket writes, so neither a cancelled send nor its read_timeout
    frees a stalled connection; web.hypercorn_patch's write deadline does. (Without it this test
    does not even fail cleanly: the stalled write also blocks hypercorn's shutdown for ever.)"""
    # no pings: the stalled write is then always the session's own, so the close is labelled 1013
    settings = test_settings(write_timeout=0.5, status_min_interval=0.0,
                             user_status_burst=1_000_000, ws_ping_interval=100)
    async with serving(settings) as server:
        host, port = server.url.removeprefix("http://").split(":")
        sock = trio.socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # fills at once
        await sock.connect((host, int(port)))
        stream = trio.SocketStream(sock)
        await stream.send_all((
            f"GET /api/presence/subscribe?token={make_token(1)} HTTP/1.1\r\nHost: {host}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
        with trio.fail_after(5):  # upgraded: the session is subscribed
            assert (await stream.receive_some(64)).startswith(b"HTTP/1.1 101")
        statuses = [PresenceStatus.ONLINE, PresenceStatus.AWAY]
        with trio.fail_after(30):  # Grace flips status until Ada's socket is dropped
            i = 0
            while server.host.sockets:
                await server.service.set_status(2, "laptop", statuses[i % 2])
                i += 1
        closes = [line for line in server.host.metrics.render().decode().splitlines()
                  if line.startswith("presence_sockets_closed_total")]
        assert closes == ['presence_sockets_closed_total{code="1013"} 1.0']
        await stream.aclose()
